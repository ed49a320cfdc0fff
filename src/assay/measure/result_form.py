"""A return value's form, for checking what a program computed under a meter (standard library only).

The counting server imports this file from its own directory (it is copied
next to it); assay imports it as a module. :func:`form` keeps only what
Python's ``==`` on plain data looks at: ``True``, ``1`` and ``1.0`` have one
form (they are equal), lists and tuples differ (they are not), sets and
frozensets do not, dicts and sets are order-free. Anything that is not
exactly a builtin type has the form of its type's name only: such a value
may compute what it holds lazily, outside the measured call, so it never
matches plain expected data.
"""

from hashlib import sha256


def form(value, depth=0):
    if depth > 100:
        return ("deep",)
    kind = type(value)
    if kind is bool:
        return ("n", int(value))
    if kind is int:
        return ("n", value)
    if kind is float:
        return ("n", int(value)) if value.is_integer() else ("f", repr(value))
    if value is None or kind is str or kind is bytes:
        return value
    if kind is complex:
        return ("c", repr(value))
    if kind is list or kind is tuple:
        return (kind.__name__, [form(v, depth + 1) for v in value])
    if kind is set or kind is frozenset:
        return ("set", sorted((form(v, depth + 1) for v in value), key=repr))
    if kind is dict:
        return ("dict", sorted(((form(k, depth + 1), form(v, depth + 1)) for k, v in value.items()), key=repr))
    return ("object", kind.__name__)


def digest(values):
    """16 hex digits for the forms of these values, in order."""
    return sha256(repr([form(v) for v in values]).encode("utf-8", "backslashreplace")).hexdigest()[:16]
