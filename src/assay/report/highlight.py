"""Python source as highlighted HTML, server-side (pygments), styled by one stylesheet in the page.

Pygments escapes the code it formats, so the result is safe to insert as
HTML even when the program is hostile (``</script>`` in a string literal
comes out as ``&lt;/script&gt;``).
"""

from __future__ import annotations

from functools import lru_cache

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

CSS_CLASS = "hl"


@lru_cache(maxsize=1)
def _formatter() -> HtmlFormatter:
    return HtmlFormatter(nowrap=True, cssclass=CSS_CLASS)


@lru_cache(maxsize=1)
def _lexer() -> PythonLexer:
    return PythonLexer(stripnl=False, ensurenl=False)


def python_html(code: str) -> str:
    """``code`` as HTML spans (no wrapper): put it inside ``<pre class="hl">``."""
    return highlight(code, _lexer(), _formatter())


def stylesheet() -> str:
    return _formatter().get_style_defs("." + CSS_CLASS)
