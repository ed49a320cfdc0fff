"""Values derived from shared, immutable objects (problems, tests), computed once per object."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    """``derive(obj)`` memoised by object identity, for objects that need not be hashable.

    Each entry keeps its object alive, so an id is never mistaken for a later
    object's; the oldest entries go past ``size``. Thread-safe; two threads
    may both compute a missing value (the results are equal).
    """

    def __init__(self, derive: Callable[[K], V], size: int = 4096) -> None:
        self._derive = derive
        self._size = size
        self._entries: OrderedDict[int, tuple[K, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, obj: K) -> V:
        with self._lock:
            cached = self._entries.get(id(obj))
            if cached is not None and cached[0] is obj:
                self._entries.move_to_end(id(obj))
                return cached[1]
        value = self._derive(obj)
        with self._lock:
            self._entries[id(obj)] = (obj, value)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value
