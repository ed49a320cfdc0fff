"""Plain-data encoding of values crossing the sandbox boundary.

A candidate's return value is turned into JSON-able *plain data* inside the
sandbox, and decoded into builtin types outside, where the comparison happens.
Nothing the candidate defines (a class with a forged ``__eq__``, a subclass of
``int``) survives the trip: the supervisor only ever compares builtins.

This module is imported by the in-sandbox harness too, so it depends on the
standard library only.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 200
MAX_ITEMS = 2_000_000


class Unencodable(Exception):
    """The value cannot be represented as plain data."""


def encode(value: Any) -> Any:
    budget = [MAX_ITEMS]
    return _encode(value, 0, budget)


def _encode(value: Any, depth: int, budget: list[int]) -> Any:
    if depth > MAX_DEPTH:
        raise Unencodable("value nested deeper than %d levels" % MAX_DEPTH)
    budget[0] -= 1
    if budget[0] < 0:
        raise Unencodable("value has more than %d items" % MAX_ITEMS)
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        # JSON numbers lose nothing for ints, but keep bool and int apart
        # hex: not subject to the 4300-digit limit on int <-> decimal str
        return value if -(2**53) < value < 2**53 else {"$int": format(value, "x")}
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            return {"$float": repr(value)}
        return value
    if kind is list:
        return [_encode(v, depth + 1, budget) for v in value]
    if kind is tuple:
        return {"$tuple": [_encode(v, depth + 1, budget) for v in value]}
    if kind is dict:
        return {"$dict": [[_encode(k, depth + 1, budget), _encode(v, depth + 1, budget)] for k, v in value.items()]}
    if kind is set or kind is frozenset:
        return {"$" + kind.__name__: [_encode(v, depth + 1, budget) for v in value]}
    if kind is bytes:
        return {"$bytes": value.hex()}
    if kind is complex:
        return {"$complex": [repr(value.real), repr(value.imag)]}
    return _encode_foreign(value, depth, budget)


def _encode_foreign(value: Any, depth: int, budget: list[int]) -> Any:
    """Subclasses of builtins keep their builtin value; anything else is opaque."""
    for base in (bool, int, float, str, bytes, complex, tuple, list, dict, frozenset, set):
        if isinstance(value, base):
            if base in (list, tuple, set, frozenset):
                plain = base(iter(value))
            elif base is dict:
                plain = dict(value.items())
            else:
                plain = base(value)
            if type(plain) is base:
                return _encode(plain, depth, budget)
            break
    item = getattr(value, "item", None)
    module = type(value).__module__ or ""
    if module.startswith("numpy") and callable(item) and getattr(value, "shape", None) == ():
        return _encode(item(), depth, budget)
    return {"$opaque": _type_name(value), "repr": _safe_repr(value)}


def _type_name(value: Any) -> str:
    try:
        kind = type(value)
        return "%s.%s" % (kind.__module__, kind.__qualname__)
    except Exception:
        return "<unknown type>"


def _safe_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except BaseException as exc:  # the candidate's __repr__ may do anything
        text = "<repr raised %s>" % type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "..."


class Opaque:
    """A value the candidate produced that has no plain-data form.

    It equals nothing, so it can never make a wrong answer look right.
    """

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "<%s object: %s>" % (self.type_name, self.text)


def decode(data: Any) -> Any:
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict) and len(data) >= 1:
        tag, payload = next(iter(data.items()))
        if tag == "$int":
            return int(payload, 16)
        if tag == "$float":
            return float(payload)
        if tag == "$tuple":
            return tuple(decode(v) for v in payload)
        if tag == "$dict":
            return {_hashable(decode(k)): decode(v) for k, v in payload}
        if tag == "$set":
            return {_hashable(decode(v)) for v in payload}
        if tag == "$frozenset":
            return frozenset(_hashable(decode(v)) for v in payload)
        if tag == "$bytes":
            return bytes.fromhex(payload)
        if tag == "$complex":
            return complex(float(payload[0]), float(payload[1]))
        if tag == "$opaque":
            return Opaque(str(payload), str(data.get("repr", "")))
    raise ValueError("malformed plain-data value: %.200r" % (data,))


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        raise ValueError("unhashable key or set member in plain-data value") from None
    return value
