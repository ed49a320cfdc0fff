"""The OpenAI-compatible backend against a real HTTP server on loopback.

The server below speaks the chat-completions protocol over real sockets and
misbehaves on cue: 429 with Retry-After, 500s, slow answers, dropped
connections, a required key, unknown models, and ignoring ``n``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assay.models import GenerationParams, Message, generate_sync, load_model
from assay.models.openai_compat import (
    EndpointNotFoundError,
    ModelAuthError,
    ModelConnectionError,
    ModelRequestError,
    ModelServerError,
    ModelTimeoutError,
    OpenAICompatModel,
    RetryPolicy,
    UnknownModelError,
    normalize_base_url,
    parse_retry_after,
)

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


@dataclass
class Action:
    """What the server does with one chat request."""

    kind: str  # "reply" | "status" | "sleep" | "drop"
    status: int = 200
    body: dict | str | None = None
    headers: dict = field(default_factory=dict)
    seconds: float = 0.0
    texts: list[str] | None = None


@dataclass
class SeenRequest:
    path: str
    headers: dict
    body: dict


class FakeOpenAIServer:
    """A threaded HTTP/1.1 server with scripted chat-completion behaviour."""

    def __init__(self, models=("tiny-coder",), required_key: str | None = None, honours_n: bool = True):
        self.models = list(models)
        self.required_key = required_key
        self.honours_n = honours_n
        self.script: deque[Action] = deque()
        self.requests: list[SeenRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def then(self, *actions: Action) -> FakeOpenAIServer:
        self.script.extend(actions)
        return self

    def chat_requests(self) -> list[SeenRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server.requests.append(SeenRequest(self.path, dict(self.headers), {}))
                if self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
                else:
                    self._json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(SeenRequest(self.path, dict(self.headers), body))
                if self.path != "/v1/chat/completions":
                    return self._json(404, {"detail": "Not Found"})
                if server.required_key and self.headers.get("Authorization") != f"Bearer {server.required_key}":
                    return self._json(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}})
                if body.get("model") not in server.models:
                    return self._json(404, {"error": {"message": f"The model `{body.get('model')}` does not exist.", "type": "NotFoundError", "code": 404}})
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    action = server.script.popleft() if server.script else Action("reply")
                    self._perform(action, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _perform(self, action: Action, body: dict) -> None:
                if action.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if action.kind == "status":
                    return self._json(action.status, action.body or {"error": {"message": "injected"}}, action.headers)
                if action.kind == "sleep":
                    time.sleep(action.seconds)
                n = body.get("n", 1) if server.honours_n else 1
                last_user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
                texts = action.texts or [f"echo {index} seed={body.get('seed')}: {last_user}" for index in range(n)]
                choices = [
                    {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    for i, text in enumerate(texts)
                ]
                usage = {"prompt_tokens": 11, "completion_tokens": 5 * len(texts), "total_tokens": 11 + 5 * len(texts)}
                try:
                    self._json(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"], "choices": choices, "usage": usage})
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (timeout test)

            def _json(self, status: int, payload, headers=None) -> None:
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def server():
    with FakeOpenAIServer() as running:
        yield running


def make_model(server: FakeOpenAIServer, **options) -> OpenAICompatModel:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("timeout", 5.0)
    options.setdefault("api_key_env", "ASSAY_TEST_KEY")
    return OpenAICompatModel("tiny-coder", server.url, **options)


def ask(model, text="hello", **params):
    return generate_sync(model, [Message.system("be brief"), Message.user(text)], GenerationParams(**params))


def test_request_carries_messages_and_sampling_params(server):
    completions = ask(make_model(server), "add two numbers", temperature=0.7, top_p=0.9, max_tokens=33, stop=("\n\n",), seed=5)
    [request] = server.chat_requests()
    assert request.body["model"] == "tiny-coder"
    assert request.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "add two numbers"},
    ]
    assert (request.body["temperature"], request.body["top_p"], request.body["max_tokens"]) == (0.7, 0.9, 33)
    assert request.body["stop"] == ["\n\n"] and request.body["seed"] == 5
    [completion] = completions
    assert completion.text == "echo 0 seed=5: add two numbers"
    assert completion.finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 5)


def test_n_samples_in_one_request_when_the_server_supports_n(server):
    model = make_model(server)
    completions = ask(model, n=3, temperature=1.0)
    assert [c.text.split(" ")[1] for c in completions] == ["0", "1", "2"]
    assert len(server.chat_requests()) == 1 and server.chat_requests()[0].body["n"] == 3
    assert model.server_honours_n is True


def test_server_that_ignores_n_gets_one_request_per_sample(server):
    server.honours_n = False
    model = make_model(server)
    completions = ask(model, n=3, temperature=1.0, seed=100)
    assert len(completions) == 3
    seeds = [r.body.get("seed") for r in server.chat_requests()]
    assert seeds[0] == 100 and sorted(seeds[1:]) == [101, 102]  # the rest go out concurrently
    assert sorted(c.text.split("seed=")[1].split(":")[0] for c in completions) == ["100", "101", "102"]
    assert model.server_honours_n is False
    ask(model, n=2, temperature=1.0, seed=7)  # now straight to one request per sample
    assert [r.body.get("n", 1) for r in server.chat_requests()[3:]] == [1, 1]


def test_429_is_retried_after_the_retry_after_delay(server):
    server.then(Action("status", 429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "1"}))
    started = time.monotonic()
    [completion] = ask(make_model(server))
    assert time.monotonic() - started >= 0.95
    assert completion.text.startswith("echo")
    assert len(server.chat_requests()) == 2


def test_500s_are_retried_until_success(server):
    server.then(Action("status", 500), Action("status", 503, "upstream busy"))
    [completion] = ask(make_model(server))
    assert completion.text.startswith("echo") and len(server.chat_requests()) == 3


def test_persistent_500_gives_a_one_line_error(server):
    server.then(*[Action("status", 500, {"error": {"message": "CUDA out of memory\nTraceback ..."}})] * 3)
    with pytest.raises(ModelServerError) as caught:
        ask(make_model(server))
    message = str(caught.value)
    assert "\n" not in message
    assert "500" in message and "3 attempts" in message and "CUDA out of memory" in message


def test_slow_answer_times_out_then_the_retry_succeeds(server):
    server.then(Action("sleep", seconds=1.5))
    [completion] = ask(make_model(server, timeout=0.4))
    assert completion.text.startswith("echo") and len(server.chat_requests()) == 2


def test_always_slow_server_gives_a_timeout_error(server):
    server.then(*[Action("sleep", seconds=1.0)] * 3)
    with pytest.raises(ModelTimeoutError, match=r"did not answer within 0.3s"):
        ask(make_model(server, timeout=0.3))


def test_dropped_connection_is_retried(server):
    server.then(Action("drop"), Action("drop"))
    [completion] = ask(make_model(server))
    assert completion.text.startswith("echo") and len(server.chat_requests()) == 3


def test_always_dropped_connection_gives_a_connection_error(server):
    server.then(*[Action("drop")] * 3)
    with pytest.raises(ModelConnectionError, match="dropped the connection"):
        ask(make_model(server))


def test_nothing_listening_says_connection_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens
    model = OpenAICompatModel("m", f"http://127.0.0.1:{port}/v1", retry=FAST_RETRY)
    with pytest.raises(ModelConnectionError) as caught:
        ask(model)
    assert str(caught.value) == (
        f"cannot connect to http://127.0.0.1:{port}/v1 (connection refused): "
        "is the server running, and is the URL right?"
    )


def test_missing_key_is_named_and_the_key_never_leaks(monkeypatch):
    with FakeOpenAIServer(required_key="sk-secret-123") as keyed:
        monkeypatch.delenv("ASSAY_TEST_KEY", raising=False)
        with pytest.raises(ModelAuthError, match=r"\$ASSAY_TEST_KEY is not set"):
            ask(make_model(keyed))

        monkeypatch.setenv("ASSAY_TEST_KEY", "sk-wrong-456")
        model = make_model(keyed)
        with pytest.raises(ModelAuthError) as caught:
            ask(model)
        assert "401" in str(caught.value) and "check the key in $ASSAY_TEST_KEY" in str(caught.value)
        assert "sk-wrong-456" not in str(caught.value) and "sk-wrong-456" not in repr(model)

        monkeypatch.setenv("ASSAY_TEST_KEY", "sk-secret-123")
        [completion] = ask(model)
        assert completion.text.startswith("echo")
        assert "sk-secret-123" not in repr(model) + model.name + str(vars(model))
        assert keyed.chat_requests()[-1].headers["Authorization"] == "Bearer sk-secret-123"


def test_unknown_model_lists_what_the_server_serves(server):
    server.models = ["Qwen/Qwen2.5-Coder-7B-Instruct", "tiny-coder-2"]
    with pytest.raises(UnknownModelError) as caught:
        ask(make_model(server))
    message = str(caught.value)
    assert "does not serve model 'tiny-coder'" in message
    assert "Qwen/Qwen2.5-Coder-7B-Instruct, tiny-coder-2" in message
    assert len(server.chat_requests()) == 1  # not retried


def test_wrong_base_url_is_called_out(server):
    model = OpenAICompatModel("tiny-coder", f"http://127.0.0.1:{server.port}", retry=FAST_RETRY)
    with pytest.raises(EndpointNotFoundError, match="base URL is probably wrong"):
        ask(model)


def test_bad_request_fails_at_once_with_the_server_message(server):
    server.then(Action("status", 400, {"error": {"message": "max_tokens is too large: 99999"}}))
    with pytest.raises(ModelRequestError, match="max_tokens is too large") as caught:
        ask(make_model(server))
    assert "\n" not in str(caught.value) and len(server.chat_requests()) == 1


def test_concurrency_is_bounded(server):
    server.then(*[Action("sleep", seconds=0.2)] * 6)
    model = make_model(server, max_concurrency=2)

    async def many():
        params = GenerationParams()
        return await asyncio.gather(*(model.generate([Message.user(f"q{i}")], params) for i in range(6)))

    results = asyncio.run(many())
    assert len(results) == 6
    assert server.max_in_flight == 2


def test_a_reply_that_is_not_a_chat_completion_is_reported(server):
    server.then(Action("status", 200, {"unexpected": True}))
    with pytest.raises(ModelServerError, match="not with an OpenAI chat completion"):
        ask(make_model(server))


def test_load_model_from_a_spec_string(server):
    model = load_model(f"openai:tiny-coder@127.0.0.1:{server.port}/v1/", api_key_env=None)
    assert model.name == f"openai:tiny-coder@{server.url}"
    [completion] = ask(model, "hi")
    assert completion.text == "echo 0 seed=None: hi"


def test_small_helpers():
    assert normalize_base_url("localhost:8000/v1/chat/completions") == "http://localhost:8000/v1"
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("not a date") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert FAST_RETRY.delay(0, retry_after=0.5) >= 0.5
    assert RetryPolicy(base_delay=1, max_delay=4).delay(10) <= 4
