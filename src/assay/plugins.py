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

import hashlib
import json
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable, Generic, Iterator, TypeVar

import pluggy

from assay.paths import cache_root

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
        load(self.hook)  # the built-ins and installed plugins first, so they keep their names
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
        load(self.hook)
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}") from None

    def find(self, name: str) -> T | None:
        load(self.hook)
        entry = self._entries.get(name)
        return entry.value if entry is not None else None

    def names(self) -> list[str]:
        load(self.hook)
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        load(self.hook)
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        load(self.hook)
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
_BY_HOOK = {registry.hook: registry for registry in REGISTRIES}

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
    "assay.oracles.stress",
    "assay.oracles.cli",
    "assay.optimize.cli",
    "assay.report.plugin",
)

# The hooks each built-in module implements, so that a registry imports only the modules that fill it:
# `assay eval` looks up a benchmark and its commands without importing the model backends, the search
# or the oracles (start-up time). A built-in module not listed here is imported for every registry;
# tests/test_plugins.py checks this table against the modules' hookimpls.
BUILTIN_HOOKS: dict[str, tuple[str, ...]] = {
    "assay.problems.registry": ("register_benchmarks",),
    "assay.models.spec": ("register_models",),
    "assay.measure.meters": ("register_meters",),
    "assay.sandbox.compare": ("register_comparisons",),
    "assay.solve": ("register_strategies",),
    "assay.search.presets": ("register_strategies",),
    "assay.search.efficiency": ("register_strategies",),
    "assay.cli": ("register_commands",),
    "assay.reward.cli": ("register_commands",),
    "assay.oracles.examples": ("register_oracles",),
    "assay.oracles.properties": ("register_oracles",),
    "assay.oracles.generated": ("register_oracles",),
    "assay.oracles.differential": ("register_oracles",),
    "assay.oracles.stress": ("register_oracles",),
    "assay.oracles.cli": ("register_commands",),
    "assay.optimize.cli": ("register_commands",),
    "assay.report.plugin": ("register_report_sections", "register_commands"),
}

_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_filled: set[str] = set()  # hooks whose registry is complete
_loading: set[str] = set()  # hooks being filled now (a module imported for one may ask for it again)
_registered: set[str] = set()  # built-in modules imported and registered


def manager() -> pluggy.PluginManager:
    """The plugin manager, with assay's own and every installed plugin registered."""
    load()
    assert _manager is not None
    return _manager


def _plugin_manager() -> pluggy.PluginManager:
    """The manager with the hook specs and every installed (entry point) plugin; built-ins come per hook."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("assay")
        pm.add_hookspecs(Specs)
        for name, value in installed_entry_points():
            if name in BUILTIN_PLUGINS or pm.get_plugin(name) is not None:
                continue
            try:
                pm.register(_load_entry_point(value), name=name)
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the tool down
                warnings.warn(f"assay plugin {name!r} ({value}) failed to load and is skipped: {type(exc).__name__}: {exc}", stacklevel=3)
        _manager = pm
    return _manager


def deferred(target: str) -> Callable[..., Any]:
    """The function ``module:name`` names, imported at its first call: a plugin registers without importing what it registers.

    For a command's ``configure`` and ``run`` and a report section's
    ``render``: `assay eval` builds its parser without importing the other
    commands' modules (start-up time).
    """
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError("a deferred function is named 'module:name', not %r" % target)

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module), name)(*args, **kwargs)

    call.__qualname__ = call.__name__ = target
    return call


def _load_entry_point(value: str) -> Any:
    """What an entry point's value (``module`` or ``module:attribute.path``, extras ignored) names."""
    module, _, attribute = value.split("[", 1)[0].strip().partition(":")
    found: Any = import_module(module.strip())
    for part in attribute.strip().split(".") if attribute.strip() else ():
        found = getattr(found, part)
    return found


def _installed_state() -> list:
    """What decides the installed entry points: each directory on sys.path, with its packages' metadata directories and their times."""
    state = []
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as found:
                dists = sorted([e.name, e.stat().st_mtime_ns] for e in found if e.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")))
            state.append([entry, dists])
        except OSError:
            continue
    return state


def installed_entry_points() -> list[tuple[str, str]]:
    """(name, value) of every installed entry point in the ``assay`` group.

    Importing ``importlib.metadata`` and scanning every installed package
    costs more than the rest of the registry, so the answer is kept in
    assay's cache directory, one file per sys.path, checked against the
    packages installed on it (each metadata directory and its modification
    time): installing, upgrading or removing a package is seen at once.
    """
    where = hashlib.sha256("\0".join(os.path.abspath(entry or ".") for entry in sys.path).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    cache = cache_root() / "entry-points" / ("%s.json" % where)
    state = _installed_state()
    try:
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("group") == ENTRY_POINT_GROUP and saved.get("state") == state:
            return [(str(name), str(value)) for name, value in saved["points"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    from importlib.metadata import entry_points

    points = [(point.name, point.value) for point in entry_points(group=ENTRY_POINT_GROUP)]
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_name(".%s.%d" % (cache.name, os.getpid()))
        temporary.write_text(json.dumps({"group": ENTRY_POINT_GROUP, "state": state, "points": points}), encoding="utf-8")
        os.replace(temporary, cache)
    except OSError:
        pass
    return points


def load(hook: str | None = None) -> None:
    """Fill the registry of ``hook`` (every registry when None): once per process, cheap after that.

    Only the built-in modules that implement the hook are imported (see
    ``BUILTIN_HOOKS``); installed plugins are all loaded the first time.
    """
    hooks = [hook] if hook is not None else [registry.hook for registry in REGISTRIES]
    if all(h in _filled for h in hooks):
        return
    with _lock:
        pm = _plugin_manager()
        for h in hooks:
            if h in _filled or h in _loading or h not in _BY_HOOK:
                continue  # done, asked by a module this very load is importing, or a registry of no hook (made by hand)
            _loading.add(h)
            try:
                for module in BUILTIN_PLUGINS:
                    if module not in _registered and h in BUILTIN_HOOKS.get(module, (h,)):
                        pm.register(import_module(module), name=module)
                        _registered.add(module)
                _fill(pm, _BY_HOOK[h])
                _filled.add(h)
            finally:
                _loading.discard(h)


def _order(impl: Any, position: int) -> tuple[int, int]:
    """Built-ins first, in BUILTIN_PLUGINS order (they claim their names), then plugins in registration order."""
    name = impl.plugin_name
    return (0, BUILTIN_PLUGINS.index(name)) if name in BUILTIN_PLUGINS else (1, position)


def _fill(pm: pluggy.PluginManager, registry: Registry) -> None:
    impls = getattr(pm.hook, registry.hook).get_hookimpls()
    for impl in sorted(impls, key=lambda impl: _order(impl, impls.index(impl))):
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
