"""Opening a report in a real browser: the system's chromium, driven by playwright over its protocol.

For the report's browser test, the load-time bench and the screenshots in
the docs. playwright's own browser download is never used: the browser is
Debian's ``chromium`` (``scripts/setup-system.sh`` installs it where it may),
found on PATH or named by ``ASSAY_CHROMIUM``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator


def chromium_path() -> str | None:
    named = os.environ.get("ASSAY_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable() -> str | None:
    """Why a browser cannot be had here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; it drives the system's chromium)"
    if chromium_path() is None:
        return "no chromium on this machine (apt-get install chromium; scripts/setup-system.sh does it as root)"
    return None


@dataclass
class Console:
    """What the page said: console messages by type, and uncaught errors."""

    messages: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [text for kind, text in self.messages if kind == "error"] + self.page_errors


@contextlib.contextmanager
def browser(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A headless chromium (a playwright ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError(unavailable() or "no chromium")
    with sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield instance
        finally:
            instance.close()


def open_page(instance, path: str | Path, width: int = 1280, height: int = 900, init_script: str | None = None):
    """A new page showing the report at ``path`` (a file), and its :class:`Console`; offline: any request leaving the file fails.

    ``init_script`` runs before the page's own (e.g. to take away a browser feature)."""
    context = instance.new_context(viewport={"width": width, "height": height}, offline=True)
    page = context.new_page()
    if init_script:
        page.add_init_script(init_script)
    console = Console()
    page.on("console", lambda message: console.messages.append((message.type, message.text)))
    page.on("pageerror", lambda error: console.page_errors.append(str(error)))
    page.goto(Path(path).resolve().as_uri(), wait_until="load")
    return page, console


def load_timing(page) -> dict[str, float]:
    """Milliseconds from navigation start to DOMContentLoaded, to the end of the load event, and to the first contentful paint (None if not reported)."""
    return page.evaluate(
        "() => new Promise(done => requestAnimationFrame(() => setTimeout(() => {"
        " const n = performance.getEntriesByType('navigation')[0];"
        " const paint = performance.getEntriesByName('first-contentful-paint')[0];"
        " done({dom_content_loaded: n.domContentLoadedEventEnd - n.startTime, load: n.loadEventEnd - n.startTime, first_paint: paint ? paint.startTime : null}); }, 0)))"
    )
