"""What a candidate raised, and how it crosses the process boundary both ways.

``describe`` turns an exception into plain data in the candidate's process; ``rebuild`` turns
that data back into an exception of the same kind in the suite's (the error properties test
the kind). Both ends import this module, and it imports nothing of the suite.
"""

from __future__ import annotations

import builtins
import traceback


class CandidateError(AssertionError):
    """The candidate broke the calling contract: it crashed, or returned the wrong kind of thing."""


class MalformedOutput(CandidateError):
    """It accepted the input and returned the wrong kind of thing (a type, a shape)."""


class CandidateDied(BaseException):
    """The candidate's process died, hung or ran out of memory during a call.

    A BaseException, as KeyboardInterrupt is: Hypothesis reports it on the first example and does
    not shrink, since every shrink step would cost a process restart or a whole time limit."""


class ImplementationError(Exception):
    """An --impl spec that cannot be turned into a working factory."""


class Unavailable(Exception):
    """Raised by a factory that cannot run here (e.g. no GPU): its tests are skipped with this reason."""


def safe_str(e: BaseException) -> str:
    """``str(e)``, even for an exception whose __str__ raises or returns something odd."""
    try:
        s = str(e)
        return s if isinstance(s, str) else repr(s)
    except BaseException:  # noqa: BLE001 - a hostile __str__ is data too
        return f"<{type(e).__name__} whose str() raised>"


def raised(e: BaseException) -> str:
    """``Type: message`` for whatever the candidate raised, even when its __str__ raises."""
    return f"{type(e).__name__}: {safe_str(e)}"


def candidate_raised(e: BaseException) -> bool:
    """Whether to turn ``e`` into a failure: anything the candidate raises, SystemExit and
    GeneratorExit included, but not a KeyboardInterrupt (in this process, that is the user's
    Ctrl-C; in the candidate's own process, the child catches it)."""
    return not isinstance(e, (KeyboardInterrupt, CandidateError))


def builtin_base(cls: type) -> str:
    """The nearest builtin exception class in ``cls``'s MRO (ValueError for a ValueError subclass)."""
    for base in cls.__mro__:
        if base.__module__ == "builtins" and isinstance(getattr(builtins, base.__name__, None), type):
            return base.__name__
    return "Exception"


def describe(e: BaseException) -> dict:
    """``e`` as plain data that pickles, whatever the candidate's exception class is."""
    chain: list[BaseException] = []
    cause: BaseException | None = e
    while cause is not None and len(chain) < 5:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    where = traceback.extract_tb(e.__traceback__)[-3:] if e.__traceback__ else []
    return {
        "candidate_error": isinstance(e, CandidateError), "malformed_output": isinstance(e, MalformedOutput),
        "type": type(e).__name__, "module": type(e).__module__, "base": builtin_base(type(e)),
        "message": safe_str(e),
        "out_of_memory": any(isinstance(c, MemoryError) or "can't allocate memory" in safe_str(c) for c in chain),
        "where": [f"{f.filename}:{f.lineno} in {f.name}" for f in where],
    }


_REBUILT: dict[tuple[str, str, str], type] = {}


def rebuild(info: dict) -> BaseException:
    """The exception ``describe`` sent, as the same kind of exception here: a CandidateError
    stays one; a ValueError subclass of the candidate's becomes a ValueError subclass of the
    same name."""
    if info["candidate_error"]:
        return (MalformedOutput if info.get("malformed_output") else CandidateError)(info["message"])
    cls: type
    if info["module"] == "builtins" and isinstance(getattr(builtins, info["type"], None), type):
        cls = getattr(builtins, info["type"])
    else:
        key = (info["module"], info["type"], info["base"])
        if key not in _REBUILT:
            base = getattr(builtins, info["base"], Exception)
            _REBUILT[key] = type(info["type"], (base,), {"__module__": info["module"]})
        cls = _REBUILT[key]
    try:
        e = cls(info["message"])
    except Exception:  # noqa: BLE001 - a builtin with another constructor (UnicodeError subclasses, say)
        e = CandidateError(f"{info['type']}: {info['message']}")
    if info["where"]:
        e.add_note("raised in the candidate's process at " + " <- ".join(reversed(info["where"])))
    if not isinstance(e, Exception):  # SystemExit, KeyboardInterrupt, GeneratorExit: the candidate's, not ours
        e = CandidateError(f"raised {info['type']}: {info['message']}")
    setattr(e, _REBUILT_MARK, True)
    return e


_REBUILT_MARK = "_conformance_raised_by_the_candidate"


def the_candidates(excinfo) -> bool:
    """``__tracebackhide__`` of the suite's modules that carry calls to the candidate: pytest shows a failure
    that is the candidate's (its death, a broken contract, what it raised, with where) without their frames."""
    e = getattr(excinfo, "value", None)
    return isinstance(e, (CandidateDied, CandidateError)) or bool(getattr(e, _REBUILT_MARK, False))
