"""The operators: what the model is asked at each step of a search, and what comes back.

Each operator builds chat messages from the problem (as a strategy sees it),
the node it works on and that node's feedback, asks the model through the
:class:`~assay.solve.SolveTask` (so every call is metered, budgeted and
stored), and returns the new nodes' contents. Programs are found in replies
by :func:`assay.models.extract.program_from_reply`, as everywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assay.models.base import GenerationParams, Message
from assay.solve import SYSTEM_PROMPT, SolveTask, messages_for


@dataclass(frozen=True)
class Made:
    """What one model reply made: the new node's content, the messages and the reply."""

    content: str | None  # None: the reply held nothing usable
    messages: list[Message]
    reply: str
    sample_index: int


def _code_block(program: str) -> str:
    return "```python\n%s\n```" % program.rstrip()


async def implement(task: SolveTask, n: int, params: GenerationParams, *, plan: str | None = None, reflections: list[str] = (), index: int = 0) -> list[Made]:  # type: ignore[assignment]
    """``n`` programs for the problem, following ``plan`` and keeping ``reflections`` in mind (Reflexion's memory)."""
    messages = messages_for(task.problem)
    extra = []
    if plan:
        extra.append("Follow this plan:\n%s" % plan.strip())
    if reflections:
        extra.append("Lessons from earlier attempts:\n" + "\n".join("- %s" % r.strip() for r in reflections))
    if extra:
        messages = [messages[0], Message.user(messages[1].content + "\n\n" + "\n\n".join(extra))]
    completions = await task.generate(messages, params.replace(n=n), index=index)
    return [Made(task.candidate(index + i, c.text).program, messages, c.text, index + i) for i, c in enumerate(completions)]


async def debug(task: SolveTask, program: str, feedback: str, params: GenerationParams, *, index: int = 0, n: int = 1) -> list[Made]:
    """A repaired program, given the failing program and what the execution showed (Self-Debug, LDB)."""
    messages = messages_for(task.problem) + [
        Message.assistant(_code_block(program)),
        Message.user("This program is wrong. Here is what running it showed:\n\n%s\n\nFix the program. Reply with the whole corrected function in a single ```python code block." % feedback.strip()),
    ]
    completions = await task.generate(messages, params.replace(n=n), index=index)
    return [Made(task.candidate(index + i, c.text).program, messages, c.text, index + i) for i, c in enumerate(completions)]


async def reflect(task: SolveTask, program: str, feedback: str, params: GenerationParams, *, index: int = 0) -> Made:
    """A few sentences on why the program fails and what to do differently (Reflexion's self-reflection)."""
    messages = [
        Message.system(SYSTEM_PROMPT),
        Message.user(
            "A function was written for this task:\n\n%s\n\n%s\n\nRunning it showed:\n\n%s\n\n"
            "In at most three sentences, say what is wrong and what the next attempt must do differently. Do not write code."
            % (_code_block(task.problem.prompt), _code_block(program), feedback.strip())
        ),
    ]
    (completion,) = await task.generate(messages, params.replace(n=1), index=index)
    text = _strip_code(completion.text).strip()
    return Made(text or None, messages, completion.text, index)


async def plan(task: SolveTask, k: int, params: GenerationParams, *, index: int = 0) -> list[Made]:
    """``k`` different strategies in words (CodeTree's and RethinkMCTS's thoughts)."""
    messages = [
        Message.system("You are an expert Python programmer who plans before coding."),
        Message.user("Describe, in at most five numbered steps and without code, an algorithm for this function:\n\n%s" % _code_block(task.problem.prompt)),
    ]
    completions = await task.generate(messages, params.replace(n=k), index=index)
    return [Made(_strip_code(c.text).strip() or None, messages, c.text, index + i) for i, c in enumerate(completions)]


async def rethink(task: SolveTask, plan_text: str, evidence: str, params: GenerationParams, *, program: str | None = None, index: int = 0) -> Made:
    """The plan rewritten where the execution evidence blames it (RethinkMCTS), seeing the failing ``program`` if given."""
    shown = "\n\nThe program:\n\n%s" % _code_block(program) if program else ""
    messages = [
        Message.system("You are an expert Python programmer who plans before coding."),
        Message.user(
            "Task:\n\n%s\n\nA program following this plan failed:\n\n%s%s\n\nEvidence from running it:\n\n%s\n\n"
            "Rewrite the plan (at most five numbered steps, no code) so that it handles what the evidence shows."
            % (_code_block(task.problem.prompt), plan_text.strip(), shown, evidence.strip())
        ),
    ]
    (completion,) = await task.generate(messages, params.replace(n=1), index=index)
    return Made(_strip_code(completion.text).strip() or None, messages, completion.text, index)


async def judge_outputs(task: SolveTask, call: str, output_a: str, output_b: str, params: GenerationParams, *, index: int = 0) -> tuple[str | None, Made]:
    """Which of two outputs the specification asks for ("A", "B" or None): S*'s selection by a distinguishing input."""
    messages = [
        Message.system("You are a careful reviewer of Python functions."),
        Message.user(
            "Specification:\n\n%s\n\nTwo implementations disagree on %s.\nA returns: %s\nB returns: %s\n\n"
            "Which one follows the specification? Answer with one letter, A or B." % (_code_block(task.problem.prompt), call, output_a, output_b)
        ),
    ]
    (completion,) = await task.generate(messages, params.replace(n=1, temperature=0.0), index=index)
    match = re.search(r"\b([AB])\b", completion.text.strip().upper())
    return (match.group(1) if match else None), Made(completion.text, messages, completion.text, index)


async def rank(task: SolveTask, contents: list[str], params: GenerationParams, *, index: int = 0) -> tuple[list[int], Made]:
    """The model's ranking of candidate programs (or plans), most likely correct first: positions into ``contents``.

    The priors of PUCT (SWE-Search's use of the model's own judgement to
    steer the search). Positions the reply does not name are left out;
    a reply naming none gives an empty ranking.
    """
    listing = "\n\n".join("Candidate %d:\n%s" % (i + 1, _code_block(c) if "def " in c else c.strip()) for i, c in enumerate(contents))
    messages = [
        Message.system("You are a careful reviewer of Python functions."),
        Message.user(
            "Specification:\n\n%s\n\n%s\n\nRank the candidates from the most to the least likely to be correct. "
            "Answer with their numbers only, best first, separated by commas (for example: 2, 1, 3)." % (_code_block(task.problem.prompt), listing)
        ),
    ]
    (completion,) = await task.generate(messages, params.replace(n=1, temperature=0.0), index=index)
    order: list[int] = []
    for number in re.findall(r"\d+", completion.text):
        position = int(number) - 1
        if 0 <= position < len(contents) and position not in order:
            order.append(position)
    return order, Made(completion.text, messages, completion.text, index)


def _strip_code(text: str) -> str:
    return re.sub(r"```.*?(```|$)", "", text, flags=re.DOTALL)
