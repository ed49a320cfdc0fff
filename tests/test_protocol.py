"""The framing between supervisor, monitor and candidate: whole messages, however the bytes arrive."""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.sandbox.harness import protocol

messages = st.lists(
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10),
    min_size=1,
    max_size=5,
)


@given(messages, st.lists(st.integers(1, 50), min_size=1, max_size=20))
def test_a_buffer_yields_each_message_once_however_the_bytes_are_split(sent, cuts):
    data = b"".join(protocol.encode_message(m) for m in sent)
    buffer, got, at = protocol.MessageBuffer(), [], 0
    for cut in cuts * (len(data) // sum(cuts) + 1):
        buffer.feed(data[at : at + cut])
        at += cut
        while (body := buffer.pop_body()) is not None:
            got.append(protocol.parse_body(body))
    assert got == sent and buffer.pending == 0


def test_a_reader_takes_messages_written_together_in_one_read_each_in_order():
    read_fd, write_fd = os.pipe()
    try:
        # larger than a pipe holds: the writer blocks until the reader has taken part of it
        writer = threading.Thread(target=protocol.write_message, args=(write_fd, {"op": "start", "program": "x" * 300_000}, {"op": "expect", "values": [[0, 1]]}))
        writer.start()
        reader = protocol.Reader(read_fd)
        assert reader.message() == {"op": "start", "program": "x" * 300_000}
        assert reader.message() == {"op": "expect", "values": [[0, 1]]}
        writer.join()
        os.close(write_fd)
        with pytest.raises(protocol.ProtocolError, match="closed"):
            reader.message()
    finally:
        os.close(read_fd)


def test_oversized_and_malformed_messages_are_protocol_errors():
    buffer = protocol.MessageBuffer()
    buffer.feed(protocol.HEADER.pack(protocol.MAX_MESSAGE + 1))
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        buffer.pop()
    buffer = protocol.MessageBuffer()
    for body in (b"{not json", b"\xff\xfe{}", b"[" * 100_000):
        with pytest.raises(protocol.ProtocolError, match="malformed"):
            protocol.parse_body(body)
    # null is valid JSON, but pop() answers None for "not all here yet": it must not pass for that
    buffer.feed(protocol.encode_message(None) + protocol.encode_message({"status": "ok"}))
    with pytest.raises(protocol.ProtocolError, match="null"):
        buffer.pop()
    assert buffer.pop() == {"status": "ok"}
