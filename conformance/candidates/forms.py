"""Candidate forms and what each can express.

module              a torch.nn.Module shaped like torch.nn.BatchNorm1d
numpy               a NumPy object: __call__, train, eval, state attributes
functional-torch    torch.nn.functional.batch_norm's signature, on torch tensors
functional-numpy    the same signature, on NumPy arrays
pure                init(...) -> state and apply(state, x, ...) -> (y, new_state)

A property that needs something a form does not have is reported as not
applicable for that form, with the reason; it is never silently passed.
"""

from __future__ import annotations

FORMS = ("module", "numpy", "functional-torch", "functional-numpy", "pure")

# What a property may need, and why a form without it cannot be checked for it.
REASONS = {
    "counter": "it keeps no batch counter (num_batches_tracked), so momentum=None and the count have no meaning",
    "constructor": "it has no constructor whose defaults could be observed",
    "rank_check": "the 1D/4D ValueError belongs to BatchNorm1d; the functional form accepts any rank >= 2",
    "stats_arguments": "only the functional form receives running stats (and their dtype) as arguments",
    "state_argument": "only the pure form receives its whole state as an argument and returns a new one",
    "backward": "it defines no backward pass the suite can call",
    "own_state": "the suite holds the state it passes to the function, which writes into it in place: which "
                 "state exists, and its dtype, are the suite's",
}

HAS = {
    "module": {"counter", "constructor", "rank_check", "backward", "own_state"},
    "numpy": {"counter", "constructor", "rank_check", "backward", "own_state"},  # backward() optional: per object
    "functional-torch": {"stats_arguments", "backward"},
    "functional-numpy": {"stats_arguments"},
    "pure": {"counter", "rank_check", "state_argument", "own_state"},
}


def capabilities(form: str, lacks=()) -> frozenset[str]:
    """What a candidate of ``form`` can express, less what it declares it ``lacks``
    (a ``conformance_lacks`` attribute: an adapter over a framework with no batch counter, say)."""
    unknown = set(lacks) - set(REASONS)
    if unknown:
        raise ValueError(f"conformance_lacks names unknown capabilities {sorted(unknown)}; known: {sorted(REASONS)}")
    return frozenset(HAS[form]) - set(lacks)


def not_applicable(form: str, capabilities, has=None) -> str | None:
    """The reason a property needing ``capabilities`` does not apply to ``form`` (whose
    capabilities are ``has``, by default the form's own), or None."""
    has = HAS[form] if has is None else has
    missing = [c for c in capabilities if c not in has]
    if not missing:
        return None
    if all(c in HAS[form] for c in missing):  # declared lacking, not the form's limit
        return f"not applicable to this {form} candidate (it declares conformance_lacks): " + "; ".join(
            REASONS[c] for c in missing)
    return f"not applicable to the {form} form: " + "; ".join(REASONS[c] for c in missing)
