"""What runs inside the sandbox for property oracles (standard library and Hypothesis only).

assay never imports this module: :mod:`assay.oracles.properties` reads its
*source* and sends it as the first part of a sandboxed program, followed by
one line that loads the property's code (and, for the combined run only,
the candidate's). Everything a function here returns is plain data, and
none of it is believed as such: the supervisor decides from separate runs
(see :func:`assay.oracles.properties.check_property`).

Three kinds of session use it:

* the **strategy alone** (``draw_examples``): the examples Hypothesis draws
  from the property's strategy, as plain data;
* the **predicate alone** (``check_output``): the property's predicate on one
  (arguments, output) pair that the supervisor sends as plain data;
* the **combined** run (``run_combined``): the candidate and the property in
  one process, Hypothesis searching and shrinking; its answer is a claim
  that the supervisor confirms or ignores.

Every Hypothesis run goes through the one function ``_explore``, so that
derandomized runs (whose seed is a digest of the test function) draw the same
examples in every session.
"""

import copy
import linecache

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import HypothesisException
from hypothesis.internal.conjecture import engine as _engine

_STATE = {"property": None, "candidate": None}


def _load(source, filename):
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": filename.strip("<>")}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def _describe(exc):
    try:
        text = str(exc)
    except BaseException:
        text = "<unprintable message>"
    return ("%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__)[:2000]


def _where(exc):
    """The property's own line where ``exc`` was raised, if it was raised there."""
    import traceback

    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == "<property>":
            return " (at line %d: %s)" % (frame.lineno, (frame.line or "").strip()[:200])
    return ""


def _as_args(drawn):
    return drawn if type(drawn) is tuple else (drawn,)


def _explore(strategy, body, max_examples, phases, shrink_seconds):
    """Hypothesis over ``strategy``, calling ``body(args)`` for each example."""
    _engine.MAX_SHRINKING_SECONDS = shrink_seconds

    @settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=max_examples,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.normal,
    )
    @given(strategy)
    def examine(drawn):
        body(_as_args(drawn))

    examine()


def _verdict(predicate, name, args, output):
    """None when the predicate holds; else why not (an exception it raised, or the false value it returned)."""
    try:
        result = predicate(args, output)
    except Exception as exc:
        return _describe(exc) + _where(exc)
    if result is None or result:
        return None
    return "property_%s returned %r" % (name, result)


def setup(property_source, candidate_source=None):
    """At load: the property's code (and, in the combined run, the candidate's), each in a namespace of its own."""
    _STATE["property"] = _load(property_source, "<property>")
    if candidate_source is not None:
        try:
            _STATE["candidate"] = _load(candidate_source, "<candidate-program>")
        except BaseException as exc:  # the combined run's answer is only a claim anyway
            _STATE["candidate"] = exc


def draw_examples(name, max_examples):
    """The argument tuples Hypothesis draws from ``strategy_<name>()`` (explicit and generate phases)."""
    drawn = []
    strategy = _STATE["property"]["strategy_" + name]()
    _explore(strategy, lambda args: drawn.append(copy.deepcopy(args)), max_examples, (Phase.explicit, Phase.generate), 1)
    return drawn


def check_output(name, args, output):
    """The predicate alone: ``{"holds": True}`` or ``{"holds": False, "why": ...}``."""
    why = _verdict(_STATE["property"]["property_" + name], name, args, output)
    return {"holds": True} if why is None else {"holds": False, "why": why}


def run_combined(entry_point, name, max_examples, shrink_seconds):
    """The candidate and the property together: Hypothesis searches, and shrinks what fails.

    ``{"outcome": "passed"}``, ``{"outcome": "failed", "args": shrunk arguments,
    "error": ..., "notes": [...]}``, or ``{"outcome": "error", "message": ...}``
    when the search itself could not run.
    """
    candidate = _STATE["candidate"]
    if isinstance(candidate, BaseException):
        return {"outcome": "error", "message": "the program failed to load: " + _describe(candidate)}
    function = candidate.get(entry_point)
    if not callable(function):
        return {"outcome": "error", "message": "the program defines no function %r" % entry_point}
    namespace = _STATE["property"]
    strategy = namespace["strategy_" + name]()
    predicate = namespace["property_" + name]
    last = {}

    def body(args):
        last["args"] = copy.deepcopy(args)
        output = function(*copy.deepcopy(args))
        why = _verdict(predicate, name, args, output)
        if why is not None:
            raise AssertionError(why)

    try:
        _explore(strategy, body, max_examples, (Phase.explicit, Phase.generate, Phase.shrink), shrink_seconds)
    except HypothesisException as exc:
        return {"outcome": "error", "message": _describe(exc)}
    except Exception as exc:
        notes = [str(note) for note in getattr(exc, "__notes__", ())]
        return {"outcome": "failed", "args": last.get("args"), "error": _describe(exc), "notes": notes}
    return {"outcome": "passed", "hypothesis": hypothesis.__version__}
