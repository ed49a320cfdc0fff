"""Length-prefixed JSON messages over pipes (stdlib only: used in the sandbox too)."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_MESSAGE = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed message, or hung up."""


def encode_message(message: Any) -> bytes:
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    return HEADER.pack(len(body)) + body


def write_message(fd: int, *messages: Any) -> None:
    """Write ``messages`` in order, in one write where the pipe takes them (one wake-up for the reader)."""
    data = b"".join(map(encode_message, messages))  # one message: join returns it, no copy
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("peer closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_body(fd: int) -> bytes:
    """One message's body, unparsed."""
    (size,) = HEADER.unpack(read_exactly(fd, HEADER.size))
    if size > MAX_MESSAGE:
        raise ProtocolError("message of %d bytes exceeds the limit" % size)
    return read_exactly(fd, size)


def read_message(fd: int) -> Any:
    return parse_body(read_body(fd))


def parse_body(body: bytes) -> Any:
    try:
        # UTF-8 only (what write_message sends): json.loads would first guess among five encodings
        return json.loads(body.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("malformed message: %s" % exc) from None


class MessageBuffer:
    """Accumulates bytes read without blocking; yields whole messages."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk

    def pop_body(self) -> bytes | None:
        """The next whole message's body, unparsed, or None if it has not all arrived."""
        if len(self._data) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._data)
        if size > MAX_MESSAGE:
            raise ProtocolError("message of %d bytes exceeds the limit" % size)
        end = HEADER.size + size
        if len(self._data) < end:
            return None
        body = bytes(self._data[HEADER.size : end])
        del self._data[:end]
        return body

    def pop(self) -> Any | None:
        """The next whole message, parsed, or None if it has not all arrived."""
        body = self.pop_body()
        if body is None:
            return None
        message = parse_body(body)
        if message is None:  # would read as "not yet", and the reader would wait for nothing
            raise ProtocolError("a null message")
        return message

    def fill(self, fd: int) -> bool:
        """One read from ``fd``: whatever is there, up to the rest of the next message
        if that is larger (capped at 16 MiB). False at end of file."""
        if len(self._data) < HEADER.size:
            wanted = HEADER.size
        else:
            (size,) = HEADER.unpack_from(self._data)
            wanted = HEADER.size + size - len(self._data)
        chunk = os.read(fd, max(1 << 16, min(wanted, 1 << 24)))
        self._data += chunk
        return bool(chunk)

    @property
    def pending(self) -> int:
        return len(self._data)


class Reader:
    """Blocking reads of whole messages from ``fd``: one read takes whatever the
    writer wrote together (e.g. two messages), not a header and a body apart."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = MessageBuffer()

    def body(self) -> bytes:
        while True:
            body = self.pending.pop_body()
            if body is not None:
                return body
            if not self.pending.fill(self.fd):
                raise ProtocolError("peer closed the channel")

    def message(self) -> Any:
        return parse_body(self.body())
