"""The HTML assembly: escaping, data blocks for the page's script, and the one self-contained page.

Everything that comes from the store is hostile (a candidate prints what it
likes): text goes through :func:`esc` into HTML, and data for the page's
script goes through :func:`json_script`, whose JSON has every ``<``, ``>``
and ``&`` written as a ``\\u`` escape, so no ``</script>`` can end the block,
or through :func:`packed_script` (gzip in base64, which has no ``<`` at all).
The page's script then puts strings into the DOM as text, never as HTML
(the only HTML it inserts is a program highlighted on the server,
where every token was escaped: :mod:`assay.report.highlight`).
The stylesheet and script are the package's own files, inlined: the page
opens offline, from a file, with no network.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import math
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from assay.report.highlight import stylesheet


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no such numbers; JSON.parse would refuse the block)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:  # a NaN or an infinity somewhere
        text = json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def json_script(element_id: str, value: Any) -> str:
    """A data block the page's script reads with ``JSON.parse``; never executed."""
    return '<script type="application/json" id="%s">%s</script>' % (esc(element_id), json_text(value))


PACKED = "application/x-assay-json+gzip"


def packed_script(element_id: str, value: Any) -> str:
    """A large data block, gzipped and in base64 (a fifth of its JSON): the page unpacks it with the
    browser's ``DecompressionStream`` when it is first needed. Base64 has no ``<``: nothing in it can end the block."""
    raw = json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str).encode("utf-8", "surrogatepass")
    packed = base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")
    return '<script type="%s" id="%s" data-bytes="%d">%s</script>' % (PACKED, esc(element_id), len(raw), packed)


def unpack(text: str) -> Any:
    """The value a :func:`packed_script` block carries (for tests and tools)."""
    return json.loads(gzip.decompress(base64.b64decode(text)).decode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Fragment:
    """What a section renders: its anchor, its title, its HTML (already escaped), and optional script of its own."""

    id: str
    title: str
    html: str
    script: str = ""


def static(name: str) -> str:
    return files("assay.report").joinpath("static", name).read_text(encoding="utf-8")


def render_page(title: str, subtitle: str, fragments: list[Fragment]) -> str:
    nav = "".join('<a href="#%s">%s</a>' % (esc(f.id), esc(f.title)) for f in fragments)
    body = "\n".join('<section id="%s" class="section"><h2>%s</h2>\n%s\n</section>' % (esc(f.id), esc(f.title), f.html) for f in fragments)
    scripts = "\n".join(f.script for f in fragments if f.script)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>%s</title>\n<style>%s\n%s</style></head>\n"
        "<body><header><h1>%s</h1><p class=\"sub\">%s</p><nav>%s</nav></header>\n<main>\n%s\n</main>\n"
        "<footer>written by assay from its run store; the page needs no network</footer>\n"
        "<script>%s\n%s</script></body></html>\n"
    ) % (esc(title), static("report.css"), stylesheet(), esc(title), esc(subtitle), nav, body, static("report.js"), scripts)
