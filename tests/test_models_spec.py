"""Model spec strings, load_model, the scripted backend and the base types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.models import (
    GenerationParams,
    Message,
    ModelError,
    ModelSpec,
    ModelSpecError,
    ScriptedModel,
    ScriptedReply,
    generate_sync,
    load_model,
    parse_model_spec,
)
from assay.models.catalog import UnknownEmbeddedModel
from assay.models.scripted import ScriptError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("embedded", ModelSpec("embedded", "qwen2.5-coder-0.5b")),
        ("embedded:smollm2-135m", ModelSpec("embedded", "smollm2-135m")),
        ("openai:gpt-4o-mini@https://api.openai.com/v1", ModelSpec("openai", "gpt-4o-mini", "https://api.openai.com/v1")),
        ("openai:Qwen/Qwen2.5-Coder-7B-Instruct@http://gpu1:8000/v1/", ModelSpec("openai", "Qwen/Qwen2.5-Coder-7B-Instruct", "http://gpu1:8000/v1")),
        ("openai:qwen2.5-coder:7b@localhost:11434/v1", ModelSpec("openai", "qwen2.5-coder:7b", "http://localhost:11434/v1")),
        ("openai:me@corp/model@http://h:1/v1", ModelSpec("openai", "me@corp/model", "http://h:1/v1")),
    ],
)
def test_parse_specs(text, expected):
    assert parse_model_spec(text) == expected


def test_openai_without_url_uses_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy:4000/v1")
    assert parse_model_spec("openai:gpt-4o") == ModelSpec("openai", "gpt-4o", "http://proxy:4000/v1")
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert parse_model_spec("openai:gpt-4o").base_url == "https://api.openai.com/v1"


def test_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_model_spec("gguf:m.gguf") == ModelSpec("gguf", str(tmp_path / "m.gguf"))
    assert str(parse_model_spec("scripted:r.jsonl")) == f"scripted:{tmp_path / 'r.jsonl'}"


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("gpt4", ModelSpecError, "unknown model spec 'gpt4'; examples: embedded"),
        ("openai:", ModelSpecError, "names no model"),
        ("openai:@http://h/v1", ModelSpecError, "names no model"),
        ("gguf:", ModelSpecError, "needs a file path"),
        ("embedded:llama-70b", UnknownEmbeddedModel, "known: qwen2.5-coder-0.5b, smollm2-135m"),
    ],
)
def test_bad_specs_say_what_to_write(text, error, match):
    with pytest.raises(error, match=match):
        parse_model_spec(text)


def test_spec_round_trips_through_str():
    for text in ["embedded:smollm2-135m", "openai:m@http://h:8000/v1", "gguf:/x/y.gguf"]:
        assert str(parse_model_spec(text)) == text
        assert parse_model_spec(str(parse_model_spec(text))) == parse_model_spec(text)


def test_load_scripted_model_from_jsonl(tmp_path):
    script = tmp_path / "replies.jsonl"
    script.write_text(
        "\n".join(
            [
                json.dumps({"text": "```python\ndef add(a, b):\n    return a + b\n```", "match": "add"}),
                json.dumps("first in order"),
                json.dumps({"response": "second in order", "finish_reason": "length"}),
            ]
        )
    )
    model = load_model(f"scripted:{script}")
    assert model.name == f"scripted:{script}"
    assert generate_sync(model, "please add numbers")[0].text.startswith("```python")
    texts = [generate_sync(model, "other")[0] for _ in range(3)]
    assert [c.text for c in texts] == ["first in order", "second in order", "first in order"]
    assert texts[1].finish_reason == "length"


def test_scripted_model_records_requests_and_counts_tokens():
    model = ScriptedModel([ScriptedReply("a b c")])
    [completion] = generate_sync(model, [Message.system("s"), Message.user("x y")], GenerationParams(max_tokens=5))
    assert completion.usage.prompt_tokens == 3 and completion.usage.completion_tokens == 3
    messages, params = model.requests[0]
    assert messages[1] == Message.user("x y") and params.max_tokens == 5


def test_scripted_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(ScriptError, match=r"bad.jsonl:2: not JSON"):
        ScriptedModel.from_jsonl(bad)
    with pytest.raises(ScriptError, match="cannot read script"):
        load_model(f"scripted:{tmp_path / 'missing.jsonl'}")
    only_matching = ScriptedModel([ScriptedReply("x", match="needle")])
    with pytest.raises(ScriptError, match="no reply matching"):
        generate_sync(only_matching, "haystack")


def test_gguf_that_does_not_exist(tmp_path):
    with pytest.raises(ModelError, match="no GGUF file at"):
        load_model(f"gguf:{tmp_path / 'nope.gguf'}")


def test_embedded_not_installed_and_install_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="run `assay models install qwen2.5-coder-0.5b`"):
        load_model("embedded", install=False)


def test_generation_params_validate_and_derive_seeds():
    params = GenerationParams(seed=3, stop="END")
    assert params.stop == ("END",)
    assert [params.seed_for(i) for i in range(3)] == [3, 4, 5]
    assert GenerationParams().seed_for(2) is None
    assert "n" not in params.sampling_key()
    for bad in [dict(temperature=-1), dict(top_p=0), dict(max_tokens=0), dict(n=0)]:
        with pytest.raises(ValueError):
            GenerationParams(**bad)
    with pytest.raises(ValueError):
        Message("robot", "hi")  # type: ignore[arg-type]


def test_generate_sync_works_inside_a_running_loop():
    import asyncio

    async def inside():
        return generate_sync(ScriptedModel(["ok"]), "x")

    assert asyncio.run(inside())[0].text == "ok"


def test_models_satisfy_the_protocol():
    from assay.models import Model

    assert isinstance(ScriptedModel(["x"]), Model)
    assert isinstance(load_model("openai:m@http://127.0.0.1:1/v1"), Model)
    assert Path(__file__).exists()
