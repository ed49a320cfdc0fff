"""The small interface every language-model backend speaks.

A :class:`Model` takes chat :class:`Message` objects and
:class:`GenerationParams`, and returns ``params.n`` :class:`Completion`
objects.  It is async so that many requests can be in flight at once;
:func:`generate_sync` is the blocking convenience for scripts and tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol, Sequence, runtime_checkable

Role = Literal["system", "user", "assistant"]
_ROLES = ("system", "user", "assistant")


class ModelError(Exception):
    """A model backend failed. ``str(error)`` is one line that says what went wrong."""


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ValueError(f"message role must be one of {_ROLES}, got {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError(f"message content must be str, got {type(self.content).__name__}")

    @classmethod
    def system(cls, content: str) -> Message:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str) -> Message:
        return cls("assistant", content)

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationParams:
    """How to sample.

    ``seed`` is the seed of the first completion; completion ``i`` of a call
    uses ``seed + i`` so that the ``n`` samples differ yet stay reproducible.
    ``temperature == 0`` means greedy decoding.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")

    def replace(self, **changes: Any) -> GenerationParams:
        return replace(self, **changes)

    def seed_for(self, sample_index: int) -> int | None:
        """The seed of sample ``sample_index`` (None stays None)."""
        return None if self.seed is None else self.seed + sample_index

    def sampling_key(self) -> dict[str, Any]:
        """Everything that shapes one sample (all fields but ``n``)."""
        fields = asdict(self)
        del fields["n"]
        fields["stop"] = list(self.stop)
        return fields


@dataclass(frozen=True)
class Usage:
    """Tokens of one completion: the prompt it saw and the text it produced."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    """One sampled reply.

    ``finish_reason`` is ``"stop"`` (natural end or stop sequence),
    ``"length"`` (hit ``max_tokens``) or whatever the server reported.
    ``cached`` is True when it came from the response cache, not a model.
    """

    text: str
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)
    cached: bool = False


@runtime_checkable
class Model(Protocol):
    """Chat messages in, ``params.n`` completions out."""

    @property
    def name(self) -> str:
        """A stable identity (the canonical spec string), used as a cache key."""
        ...

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> list[Completion]: ...


async def aclose_model(model: object) -> None:
    """Release a model's connections for the running event loop, if it holds any."""
    close = getattr(model, "aclose", None)
    if close is not None:
        await close()


def as_messages(prompt: str | Message | Sequence[Message]) -> list[Message]:
    """Accept a plain string (one user turn), a message, or a list of messages."""
    if isinstance(prompt, str):
        return [Message.user(prompt)]
    if isinstance(prompt, Message):
        return [prompt]
    return list(prompt)


def generate_sync(
    model: Model,
    prompt: str | Message | Sequence[Message],
    params: GenerationParams | None = None,
) -> list[Completion]:
    """Blocking ``model.generate``; works inside or outside a running event loop."""
    messages = as_messages(prompt)
    params = params or GenerationParams()

    async def generate_then_close() -> list[Completion]:
        try:
            return await model.generate(messages, params)
        finally:  # this private loop ends here: leave no connections behind
            await aclose_model(model)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(generate_then_close())
    # Called from async code: run on a private loop in a helper thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, generate_then_close()).result()
