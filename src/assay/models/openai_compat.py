"""A client for any OpenAI-compatible ``/chat/completions`` server.

That covers vLLM, SGLang, Ollama, the llama.cpp server, LM Studio and the
hosted APIs.  Requests run concurrently up to ``max_concurrency``; 429, 5xx,
timeouts and dropped connections are retried with exponential backoff and
jitter (``Retry-After`` is honoured); everything else fails at once with a
one-line :class:`ModelError` that says what to fix.

The API key is read from an environment variable at request time and never
stored on the object, printed, or logged.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import os
import random
import socket
import ssl
import time
import weakref
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import httpx

from assay.models.base import Completion, GenerationParams, Message, ModelError, Usage

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"


class ModelConnectionError(ModelError):
    """The server could not be reached, or kept dropping the connection."""


class ModelTimeoutError(ModelError):
    """The server did not answer within the timeout."""


class ModelAuthError(ModelError):
    """The server rejected the API key (401/403)."""


class UnknownModelError(ModelError):
    """The server does not serve the requested model."""


class EndpointNotFoundError(ModelError):
    """Nothing answers at the URL: the base URL is probably wrong."""


class ModelServerError(ModelError):
    """The server kept failing (5xx or 429) after every retry."""


class ModelRequestError(ModelError):
    """The server refused the request itself (4xx other than the above)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` wins when it asks for longer."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        delay = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay


class OpenAICompatModel:
    """Chat completions over HTTP from an OpenAI-compatible server."""

    def __init__(
        self,
        model: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key_env: str | None = DEFAULT_API_KEY_ENV,
        max_concurrency: int = 8,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self.model = model
        self.base_url = normalize_base_url(base_url)
        self.api_key_env = api_key_env
        self.max_concurrency = max_concurrency
        self.timeout = httpx.Timeout(timeout, connect=min(connect_timeout, timeout))
        self.retry = retry
        self.extra_body = dict(extra_body or {})
        self.server_honours_n: bool | None = None  # learnt from the first n > 1 call
        # httpx clients and semaphores belong to one event loop: one pair per loop.
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    @property
    def name(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def __repr__(self) -> str:
        return (
            f"OpenAICompatModel(model={self.model!r}, base_url={self.base_url!r}, "
            f"api_key_env={self.api_key_env!r}, max_concurrency={self.max_concurrency})"
        )

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> list[Completion]:
        wire_messages = [m.to_dict() for m in messages]
        if params.n == 1 or self.server_honours_n is False:
            return await self._one_request_per_sample(wire_messages, params, first=0)
        completions = await self._request(wire_messages, params, n=params.n, seed=params.seed)
        if self.server_honours_n is None:
            self.server_honours_n = len(completions) >= params.n
        if len(completions) < params.n:  # the server ignored n: ask for the rest one by one
            completions += await self._one_request_per_sample(
                wire_messages, params, first=len(completions)
            )
        return completions[: params.n]

    async def aclose(self) -> None:
        """Close this event loop's connections (a later call opens new ones)."""
        entry = self._per_loop.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].aclose()

    async def list_served_models(self) -> list[str]:
        """The model ids the server reports at ``GET /models`` (empty if it can't say)."""
        try:
            client, _ = self._http()
            response = await client.get(
                f"{self.base_url}/models", headers=self._headers(), timeout=5.0
            )
            data = response.json().get("data", [])
            return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]
        except (httpx.HTTPError, ValueError, AttributeError, TypeError):
            return []

    # -- one request ------------------------------------------------------

    async def _one_request_per_sample(
        self, wire_messages: list[dict[str, str]], params: GenerationParams, first: int
    ) -> list[Completion]:
        batches = await asyncio.gather(
            *(
                self._request(wire_messages, params, n=1, seed=params.seed_for(index))
                for index in range(first, params.n)
            )
        )
        return [completion for batch in batches for completion in batch[:1]]

    def _body(
        self, wire_messages: list[dict[str, str]], params: GenerationParams, n: int, seed: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": wire_messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if n != 1:
            body["n"] = n
        if params.stop:
            body["stop"] = list(params.stop)
        if seed is not None:
            body["seed"] = seed
        body.update(self.extra_body)
        return body

    async def _request(
        self,
        wire_messages: list[dict[str, str]],
        params: GenerationParams,
        *,
        n: int,
        seed: int | None,
    ) -> list[Completion]:
        body = self._body(wire_messages, params, n, seed)
        client, semaphore = self._http()
        async with semaphore:
            last_failure: ModelError | None = None
            for attempt in range(self.retry.max_attempts):
                retry_after: float | None = None
                try:
                    response = await client.post(self.endpoint, json=body, headers=self._headers())
                except httpx.TimeoutException:
                    last_failure = ModelTimeoutError(
                        f"{self.endpoint} did not answer within {self.timeout.read:g}s "
                        f"({self.retry.max_attempts} attempts); raise the timeout or check the server load"
                    )
                except httpx.ConnectError as error:
                    last_failure = ModelConnectionError(
                        f"cannot connect to {self.base_url} ({_reason(error)}): "
                        "is the server running, and is the URL right?"
                    )
                except httpx.TransportError as error:  # dropped connection, broken reply
                    last_failure = ModelConnectionError(
                        f"{self.base_url} dropped the connection ({_reason(error)}) "
                        f"on all {self.retry.max_attempts} attempts"
                    )
                else:
                    if response.status_code == 200:
                        return self._parse(response, n)
                    if not is_retryable(response.status_code):
                        raise await self._fatal_error(response)
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    last_failure = ModelServerError(
                        f"{self.endpoint} answered {response.status_code} "
                        f"{response.reason_phrase} on all {self.retry.max_attempts} attempts: "
                        f"{server_message(response)}"
                    )
                if attempt + 1 < self.retry.max_attempts:
                    await asyncio.sleep(self.retry.delay(attempt, retry_after))
            assert last_failure is not None
            raise last_failure

    def _parse(self, response: httpx.Response, n: int) -> list[Completion]:
        try:
            data = response.json()
            choices = sorted(data["choices"], key=lambda choice: choice.get("index", 0))
            texts = [(choice.get("message") or {}).get("content") or "" for choice in choices]
            reasons = [choice.get("finish_reason") or "stop" for choice in choices]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ModelServerError(
                f"{self.endpoint} answered 200 but not with an OpenAI chat completion "
                f"({type(error).__name__}): {_one_line(response.text)[:200]}"
            ) from None
        usage = data.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = _split_evenly(int(usage.get("completion_tokens") or 0), len(texts))
        if not usage:  # some servers omit usage: estimate ~4 characters per token
            completion_tokens = [max(1, len(text) // 4) for text in texts]
        return [
            Completion(text=text, finish_reason=reason, usage=Usage(prompt_tokens, tokens))
            for text, reason, tokens in zip(texts, reasons, completion_tokens)
        ]

    async def _fatal_error(self, response: httpx.Response) -> ModelError:
        status = response.status_code
        message = server_message(response)
        if status in (401, 403):
            if self.api_key_env and not os.environ.get(self.api_key_env):
                hint = f"${self.api_key_env} is not set"
            elif self.api_key_env:
                hint = f"check the key in ${self.api_key_env}"
            else:
                hint = "this client sends no key (api_key_env=None)"
            return ModelAuthError(
                f"{self.base_url} rejected the API key ({status} {response.reason_phrase}): "
                f"{hint}; server said: {message}"
            )
        if status == 404:
            if "model" in message.lower():
                served = await self.list_served_models()
                available = f" (it serves: {', '.join(served[:10])})" if served else ""
                return UnknownModelError(
                    f"{self.base_url} does not serve model {self.model!r}{available}; "
                    f"server said: {message}"
                )
            return EndpointNotFoundError(
                f"nothing at {self.endpoint} (404): the base URL is probably wrong "
                "(OpenAI-compatible servers usually end in /v1)"
            )
        return ModelRequestError(
            f"{self.endpoint} refused the request ({status} {response.reason_phrase}): {message}"
        )

    # -- plumbing -----------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _http(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """The client and semaphore of the running event loop (made on first use)."""
        loop = asyncio.get_running_loop()
        entry = self._per_loop.get(loop)
        if entry is None:
            limits = httpx.Limits(max_connections=self.max_concurrency)
            entry = (
                httpx.AsyncClient(timeout=self.timeout, limits=limits, verify=_shared_ssl_context()),
                asyncio.Semaphore(self.max_concurrency),
            )
            self._per_loop[loop] = entry
        return entry


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    """Building one costs ~0.3 s (it loads the CA bundle): do it once per process."""
    return httpx.create_ssl_context(trust_env=True)


def normalize_base_url(url: str) -> str:
    """``host:8000/v1/`` → ``http://host:8000/v1``; a pasted ``/chat/completions`` is dropped."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def is_retryable(status: int) -> bool:
    """Rate limits, request timeouts and server-side failures are worth another try."""
    return status in (408, 429) or status >= 500


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def server_message(response: httpx.Response) -> str:
    """The error text a server put in its body, on one line."""
    try:
        data = response.json()
    except ValueError:
        return _one_line(response.text)[:300] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message") or json.dumps(error)
        if error is not None:
            return _one_line(str(error))[:300]
    return _one_line(json.dumps(data))[:300]


def _split_evenly(total: int, parts: int) -> list[int]:
    if parts == 0:
        return []
    share, extra = divmod(total, parts)
    return [share + (1 if index < extra else 0) for index in range(parts)]


def _reason(error: Exception) -> str:
    """Why a connection failed, in a few words (looks through the exception chain)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for link in chain:
        if isinstance(link, ConnectionRefusedError) or "refused" in str(link).lower():
            return "connection refused"
        if isinstance(link, socket.gaierror) or "name or service not known" in str(link).lower():
            return "unknown host name"
    text = _one_line(str(error))
    return text[:160] or type(error).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())
