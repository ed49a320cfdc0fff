"""Code extraction from model replies in the styles of several model families."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from assay.models.extract import clean_reply, extract_code, find_fenced_blocks, strip_test_scaffolding


def _load_fixtures():
    path = Path(__file__).parent / "fixtures" / "model_replies.py"
    spec = importlib.util.spec_from_file_location("model_replies_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    import sys

    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module.REPLIES


REPLIES = _load_fixtures()


def _run(code: str, check: str) -> None:
    namespace: dict = {"__name__": "candidate"}
    exec(compile(code, "<extracted>", "exec"), namespace)
    exec(compile(check, "<check>", "exec"), namespace)


@pytest.mark.parametrize("case", REPLIES, ids=[case.id for case in REPLIES])
def test_extracted_code_runs_and_is_correct(case):
    extracted = extract_code(case.reply, entry_point=case.entry_point, prompt=case.prompt)
    _run(extracted.code, case.check)


def test_fixtures_cover_several_families():
    families = {case.family.split("-")[0].split(" ")[0] for case in REPLIES}
    assert {"Qwen2.5", "Llama", "DeepSeek", "GPT", "SmolLM2"} <= families


def test_example_runs_are_removed_but_definitions_kept():
    case = next(c for c in REPLIES if c.id == "qwen-decorated-cache-helper-and-constant")
    code = extract_code(case.reply, entry_point=case.entry_point).code
    assert "print(result)" not in code
    assert "result = greatest_common_divisor" not in code
    assert "LIMIT = 10 ** 6" in code and "@lru_cache" in code


def test_wrong_example_assert_cannot_fail_a_correct_solution():
    case = next(c for c in REPLIES if c.id == "qwen-check-function-and-wrong-assert")
    code = extract_code(case.reply, entry_point=case.entry_point, prompt=case.prompt).code
    assert "\ncheck_solution()" not in code
    _run(code, "assert greatest_common_divisor(10, 4) == 2")


def test_main_guard_with_input_loop_is_dropped():
    case = next(c for c in REPLIES if c.id == "deepseek-coder-main-guard")
    code = extract_code(case.reply, entry_point=case.entry_point).code
    assert "__main__" not in code and "input()" not in code


def test_body_continues_the_prompt():
    case = next(c for c in REPLIES if c.id == "qwen-body-only-continuation")
    extracted = extract_code(case.reply, entry_point=case.entry_point, prompt=case.prompt)
    assert extracted.method == "prompt+body"
    assert extracted.code.startswith("from typing import List")
    assert "<|endoftext|>" not in extracted.code


def test_helpers_from_other_blocks_are_merged_in_order():
    case = next(c for c in REPLIES if c.id == "gpt-imports-in-first-block")
    extracted = extract_code(case.reply, entry_point=case.entry_point)
    assert extracted.method == "fenced+merged"
    assert extracted.code.index("from itertools import combinations") < extracted.code.index("def has_close")


def test_last_defining_block_wins_when_the_model_revises():
    case = next(c for c in REPLIES if c.id == "gpt-alternative-versions-last-wins")
    assert "math.gcd" in extract_code(case.reply, entry_point=case.entry_point).code


def test_reasoning_section_is_ignored():
    case = next(c for c in REPLIES if c.id == "deepseek-r1-think-then-code")
    code = extract_code(case.reply, entry_point=case.entry_point).code
    assert "return 1" not in code and "abs(a)" in code


def test_prompt_imports_are_added_to_a_full_function():
    case = next(c for c in REPLIES if c.id == "smollm-signature-repeated-in-untagged-fence-with-prompt")
    extracted = extract_code(case.reply, entry_point=case.entry_point, prompt=case.prompt)
    assert extracted.code.startswith("from typing import List")
    assert extracted.method.endswith("+prompt")


def test_unterminated_fence_runs_to_the_end():
    blocks = find_fenced_blocks("text\n```python\ndef f():\n    return 1\n")
    assert len(blocks) == 1 and not blocks[0].terminated
    assert blocks[0].code == "def f():\n    return 1"


def test_fence_tags_and_longer_fences():
    text = "````python\nx = '```'\n````\n~~~\ny = 2\n~~~\n```Python3\nz = 3\n```"
    blocks = find_fenced_blocks(text)
    assert [(b.tag, b.code) for b in blocks] == [
        ("python", "x = '```'"),
        ("", "y = 2"),
        ("python3", "z = 3"),
    ]


def test_non_python_blocks_are_ignored():
    reply = "```json\n{\"a\": 1}\n```\n```python\ndef f():\n    return 2\n```"
    assert extract_code(reply, entry_point="f").code == "def f():\n    return 2\n"


def test_no_entry_point_prefers_the_largest_definition_block():
    reply = "```python\nimport os\n```\n\n```python\ndef a():\n    return 1\n\ndef b():\n    return a()\n```"
    code = extract_code(reply).code
    assert "def a()" in code and "def b()" in code


def test_prose_only_reply_comes_back_raw():
    extracted = extract_code("I cannot help with that.")
    assert extracted.method == "raw"
    assert extracted.code == "I cannot help with that.\n"


def test_empty_reply():
    assert extract_code("").method == "empty"
    assert extract_code("<think>hmm</think>").code == ""


def test_trailing_bare_word_after_code_is_not_kept():
    reply = "def f(x):\n    return x + 1\n\nExplanation\nThis adds one."
    code = extract_code(reply, entry_point="f").code
    assert "Explanation" not in code
    _run(code, "assert f(1) == 2")


def test_clean_reply_strips_special_tokens():
    assert clean_reply("a<|im_end|>b<|eot_id|>c</s>") == "abc"


def test_scaffolding_keeps_setup_calls():
    code = "import sys\nsys.setrecursionlimit(10000)\n\ndef f():\n    return 1\n\nprint(f())\nassert f() == 2\n"
    stripped = strip_test_scaffolding(code, "f")
    assert "sys.setrecursionlimit(10000)" in stripped
    assert "print" not in stripped and "assert" not in stripped


def test_scaffolding_left_alone_when_code_does_not_parse():
    broken = "def f(:\n    pass\nprint(1)\n"
    assert strip_test_scaffolding(broken) == broken


def test_body_followed_by_prose_continues_the_prompt():
    prompt = 'def inc(x: int) -> int:\n    """Add one."""\n'
    reply = "    return x + 1\n\nThis simply adds one to x."
    extracted = extract_code(reply, entry_point="inc", prompt=prompt)
    assert extracted.method == "prompt+body"
    _run(extracted.code, "assert inc(1) == 2")


def test_renamed_function_is_not_nested_into_the_prompt():
    prompt = 'from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    """Sum."""\n'
    reply = "```python\ndef my_total(xs: List[int]) -> int:\n    return sum(xs)\n```"
    code = extract_code(reply, entry_point="total", prompt=prompt).code
    assert code.startswith("from typing import List") and "\ndef my_total" in code


def test_stdin_programs_keep_their_main_guard_without_an_entry_point():
    reply = "```python\nimport sys\n\ndef main():\n    print(sum(map(int, sys.stdin.read().split())))\n\nif __name__ == \"__main__\":\n    main()\n```"
    code = extract_code(reply).code
    assert 'if __name__ == "__main__":' in code and "print(sum" in code


def test_indented_prose_is_not_taken_for_a_body():
    reply = "  Sure, here's the code:\ndef f():\n    return 1\n"
    extracted = extract_code(reply, entry_point="f", prompt="def f():\n    pass\n")
    assert extracted.method == "region" and extracted.code == "def f():\n    return 1\n"
