"""Python source as highlighted HTML, server-side (pygments), styled by one stylesheet in the page.

The spans are pygments' own short classes (``k``, ``s2``, ``nf``...), styled
by its stylesheet; tokens the style leaves plain (names, punctuation,
operators, whitespace) get no span, and neighbours of one class share one:
a report of 1640 programs carries half the markup ``HtmlFormatter`` would
write. Every piece of text is HTML-escaped here, so the result is safe to
insert as HTML even when the program is hostile (``</script>`` in a string
literal comes out as ``&lt;/script&gt;``).
"""

from __future__ import annotations

import html
from functools import lru_cache

from pygments import lex
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES, Name, Operator, Punctuation, Text, Whitespace

CSS_CLASS = "hl"
PLAIN = {Text, Whitespace, Name, Punctuation, Operator, Name.Other, Text.Whitespace}


@lru_cache(maxsize=1)
def _lexer() -> PythonLexer:
    return PythonLexer(stripnl=False, ensurenl=False)


@lru_cache(maxsize=256)
def _css_class(ttype) -> str:
    if ttype in PLAIN:
        return ""
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


def python_html(code: str) -> str:
    """``code`` as HTML spans (no wrapper): put it inside ``<pre class="hl">``."""
    out: list[str] = []
    current, text = "", []
    for ttype, value in lex(code, _lexer()):
        css = _css_class(ttype)
        if css != current and text:
            out.append(_span(current, "".join(text)))
            text = []
        current = css
        text.append(value)
    if text:
        out.append(_span(current, "".join(text)))
    return "".join(out)


def _span(css: str, text: str) -> str:
    escaped = html.escape(text, quote=False)
    return '<span class="%s">%s</span>' % (css, escaped) if css and text.strip() else escaped


def shared_prefix(programs: list[str]) -> str:
    """The whole lines every program starts with (a problem's prompt, usually), or "" when that would not split cleanly."""
    if len(programs) < 2:
        return ""
    first = programs[0]
    end = len(first)
    for other in programs[1:]:
        limit = min(end, len(other))
        i = 0
        while i < limit and first[i] == other[i]:
            i += 1
        end = i
    end = first.rfind("\n", 0, end) + 1  # whole lines only
    prefix = first[:end]
    if prefix.count("\n") < 2:
        return ""
    if python_html(prefix) + python_html(first[end:]) != python_html(first):
        return ""  # the split falls inside a token (a string spanning it): highlight whole programs
    return prefix


def stylesheet() -> str:
    return HtmlFormatter(cssclass=CSS_CLASS).get_style_defs("." + CSS_CLASS)
