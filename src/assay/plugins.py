"""The registry: where benchmarks, model backends, meters, comparisons, commands,
strategies, oracles and report sections come from.

Everything assay can be extended with is registered the same way, built-in
or not: a module (or object) with pluggy hook implementations, whose hooks
receive a ``register`` function. assay's own modules are registered first;
then every installed package that declares an entry point in the ``assay``
group (``[project.entry-points.assay]`` in its ``pyproject.toml``), as
simonw/llm's plugins do::

    from assay.plugins import hookimpl

    @hookimpl
    def register_benchmarks(register):
        register("tiny", load_tiny_problems, "three problems for a smoke test")

A plugin that fails to import is skipped with a warning naming it; a name
already taken is kept by its first owner (assay's own come first), with a
warning.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, Iterator, TypeVar

import pluggy

ENTRY_POINT_GROUP = "assay"
hookspec = pluggy.HookspecMarker("assay")
hookimpl = pluggy.HookimplMarker("assay")

T = TypeVar("T")
Register = Callable[..., None]


class Specs:
    """The hooks a plugin may implement; each receives ``register(name, value, description="")``."""

    @hookspec
    def register_benchmarks(self, register: Register) -> None:
        """Benchmarks: ``register(name, loader, description)``, ``loader() -> list[Problem]``."""

    @hookspec
    def register_models(self, register: Register) -> None:
        """Model backends: ``register(prefix, ModelBackend(...), description)`` for specs ``prefix:...``."""

    @hookspec
    def register_meters(self, register: Register) -> None:
        """Meters: ``register(name, factory, description)``, ``factory() -> Meter`` (see :mod:`assay.measure`)."""

    @hookspec
    def register_comparisons(self, register: Register) -> None:
        """Output comparisons for call tests: ``register(name, compare, description)``,
        ``compare(problem, test, output) -> (passed, first_difference)``; they run in the supervisor."""

    @hookspec
    def register_commands(self, register: Register) -> None:
        """CLI subcommands: ``register(name, Command(...), description)``."""

    @hookspec
    def register_strategies(self, register: Register) -> None:
        """Solving strategies: ``register(name, strategy, description)`` (see :mod:`assay.solve`)."""

    @hookspec
    def register_oracles(self, register: Register) -> None:
        """Test oracles (sources of tests a search may see): ``register(name, oracle, description)``."""

    @hookspec
    def register_report_sections(self, register: Register) -> None:
        """Sections of the HTML report: ``register(name, section, description)``."""


@dataclass(frozen=True)
class Command:
    """A CLI subcommand: ``configure(parser)`` adds its arguments, ``run(args)`` does it and returns the exit code."""

    help: str
    configure: Callable[[Any], None]
    run: Callable[[Any], int]
    description: str | None = None


class RegistryError(ValueError):
    """A name that nothing registered (the message lists what is known)."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    description: str
    plugin: str  # who registered it: "assay" for built-ins, else the entry point's name


class Registry(Generic[T]):
    """The entries of one kind, filled by one hook of every plugin."""

    def __init__(self, kind: str, hook: str, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or kind + "s"
        self.hook = hook
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, value: T, description: str = "", *, plugin: str = "assay") -> None:
        """Add an entry (plugins do it through their hook; code may call it directly too)."""
        load()  # the built-ins and installed plugins first, so they keep their names
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} needs a non-empty name (from plugin {plugin!r})")
        taken = self._entries.get(name)
        if taken is not None and taken.plugin != plugin:
            warnings.warn(f"{self.kind} {name!r} from plugin {plugin!r} ignored: {taken.plugin!r} registered it first", stacklevel=2)
            return
        self._entries[name] = Entry(name, value, description, plugin)

    def get(self, name: str) -> T:
        return self.entry(name).value

    def entry(self, name: str) -> Entry[T]:
        load()
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}") from None

    def find(self, name: str) -> T | None:
        load()
        entry = self._entries.get(name)
        return entry.value if entry is not None else None

    def names(self) -> list[str]:
        load()
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        load()
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


BENCHMARKS: Registry[Callable[[], list]] = Registry("benchmark", "register_benchmarks")
MODELS: Registry[Any] = Registry("model backend", "register_models")
METERS: Registry[Callable[[], Any]] = Registry("meter", "register_meters")
COMPARISONS: Registry[Callable[..., tuple]] = Registry("comparison", "register_comparisons")
COMMANDS: Registry[Any] = Registry("command", "register_commands")
STRATEGIES: Registry[Any] = Registry("strategy", "register_strategies", "strategies")
ORACLES: Registry[Any] = Registry("oracle", "register_oracles")
REPORT_SECTIONS: Registry[Any] = Registry("report section", "register_report_sections")
REGISTRIES: tuple[Registry, ...] = (BENCHMARKS, MODELS, METERS, COMPARISONS, COMMANDS, STRATEGIES, ORACLES, REPORT_SECTIONS)

# assay's own plugins, registered before any other (each module holds hookimpls)
BUILTIN_PLUGINS = (
    "assay.problems.registry",
    "assay.models.spec",
    "assay.measure.meters",
    "assay.sandbox.compare",
    "assay.solve",
    "assay.search.presets",
    "assay.search.efficiency",
    "assay.cli",
    "assay.reward.cli",
    "assay.oracles.examples",
    "assay.oracles.properties",
    "assay.oracles.generated",
    "assay.oracles.differential",
    "assay.oracles.build",
    "assay.oracles.cli",
    "assay.optimize.cli",
    "assay.report.plugin",
)

_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_loading = False


def manager() -> pluggy.PluginManager:
    """The plugin manager, with assay's own and every installed plugin registered."""
    load()
    assert _manager is not None
    return _manager


def load() -> None:
    """Register every plugin and fill the registries (once per process; cheap after that)."""
    global _manager, _loading
    if _manager is not None:
        return
    with _lock:
        if _manager is not None or _loading:
            return  # a built-in module asked while being imported by this very load
        _loading = True
        try:
            pm = pluggy.PluginManager("assay")
            pm.add_hookspecs(Specs)
            for module in BUILTIN_PLUGINS:
                pm.register(import_module(module), name=module)
            for point in entry_points(group=ENTRY_POINT_GROUP):
                if pm.get_plugin(point.name) is not None:
                    continue
                try:
                    pm.register(point.load(), name=point.name)
                except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the tool down
                    warnings.warn(f"assay plugin {point.name!r} ({point.value}) failed to load and is skipped: {type(exc).__name__}: {exc}", stacklevel=2)
            for registry in REGISTRIES:
                _fill(pm, registry)
            _manager = pm
        finally:
            _loading = False


def _fill(pm: pluggy.PluginManager, registry: Registry) -> None:
    # in registration order (pluggy would call the last registered first): built-ins claim their names first
    for impl in getattr(pm.hook, registry.hook).get_hookimpls():
        plugin = "assay" if impl.plugin_name.startswith("assay.") else impl.plugin_name

        def register(name: str, value: Any, description: str = "", _plugin: str = plugin) -> None:
            registry.register(name, value, description, plugin=_plugin)

        try:
            impl.function(register=register)
        except Exception as exc:  # noqa: BLE001
            if plugin == "assay":
                raise
            warnings.warn(f"assay plugin {plugin!r} failed in {registry.hook} and is skipped there: {type(exc).__name__}: {exc}", stacklevel=3)


def plugins() -> list[dict[str, Any]]:
    """Each registered plugin and what it added, for ``assay plugins``."""
    load()
    found: dict[str, dict[str, list[str]]] = {}
    for registry in REGISTRIES:
        for entry in registry._entries.values():  # noqa: SLF001 - same module
            found.setdefault(entry.plugin, {}).setdefault(registry.kind, []).append(entry.name)
    return [{"name": name, "adds": adds} for name, adds in found.items()]
