"""A model that replays given replies: for testing the code around models.

Never use it to produce a reported figure.

Replies are matched in two ways.  A reply with ``match`` is used whenever
that substring occurs in the conversation (the first such reply wins).
Replies without ``match`` are handed out in order, cycling when exhausted.
A JSONL script has one object per line: ``{"text": "...", "match": "..."}``
(``match`` and ``finish_reason`` optional; ``"response"`` is accepted for
``"text"``) or a bare JSON string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from assay.models.base import Completion, GenerationParams, Message, ModelError, Usage


class ScriptError(ModelError):
    """The script cannot be read or has no reply for a request."""


@dataclass(frozen=True)
class ScriptedReply:
    text: str
    match: str | None = None
    finish_reason: str = "stop"


class ScriptedModel:
    """Replays :class:`ScriptedReply` objects; records every request it saw."""

    def __init__(self, replies: Iterable[ScriptedReply | str], *, name: str = "scripted") -> None:
        self.replies = [r if isinstance(r, ScriptedReply) else ScriptedReply(r) for r in replies]
        self._in_order = [reply for reply in self.replies if reply.match is None]
        self._next = 0
        self._name = name
        self.requests: list[tuple[list[Message], GenerationParams]] = []

    @classmethod
    def from_jsonl(cls, path: str | Path) -> ScriptedModel:
        path = Path(path)
        try:
            lines = path.read_text().splitlines()
        except OSError as error:
            raise ScriptError(f"cannot read script {path}: {error.strerror}") from None
        replies = [_parse_line(line, path, number) for number, line in enumerate(lines, 1) if line.strip()]
        return cls(replies, name=f"scripted:{path}")

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"ScriptedModel(name={self._name!r}, replies={len(self.replies)})"

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> list[Completion]:
        self.requests.append((list(messages), params))
        conversation = "\n".join(message.content for message in messages)
        prompt_tokens = _count_tokens(conversation)
        return [self._completion(self._pick(conversation), prompt_tokens) for _ in range(params.n)]

    def _pick(self, conversation: str) -> ScriptedReply:
        for reply in self.replies:
            if reply.match is not None and reply.match in conversation:
                return reply
        if not self._in_order:
            raise ScriptError(f"{self._name} has no reply matching the request: {conversation[:80]!r}")
        reply = self._in_order[self._next % len(self._in_order)]
        self._next += 1
        return reply

    @staticmethod
    def _completion(reply: ScriptedReply, prompt_tokens: int) -> Completion:
        return Completion(
            text=reply.text,
            finish_reason=reply.finish_reason,
            usage=Usage(prompt_tokens, _count_tokens(reply.text)),
        )


def _count_tokens(text: str) -> int:
    """A stand-in token count: whitespace-separated words."""
    return len(text.split())


def _parse_line(line: str, path: Path, number: int) -> ScriptedReply:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise ScriptError(f"{path}:{number}: not JSON ({error.msg})") from None
    if isinstance(item, str):
        return ScriptedReply(item)
    if isinstance(item, dict) and isinstance(item.get("text", item.get("response")), str):
        return ScriptedReply(
            text=item.get("text", item.get("response")),
            match=item.get("match"),
            finish_reason=item.get("finish_reason", "stop"),
        )
    raise ScriptError(f'{path}:{number}: expected a string or {{"text": ...}}')
