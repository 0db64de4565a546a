"""The known-deviations file: properties an implementation is known to fail, each with a fingerprint.

    # [implementation::]property_id [dtype]: quantity -- reason
    running_stats_after_one_train_step_match_the_closed_form: running_var -- we store the biased variance
    mykernel::eval_output_uses_the_running_stats [float16]: eval output -- accumulates in half precision

The *quantity* is what is expected to differ: words of the comparison that fails, as its message
names it (``running_var``, ``train output``, ``grad_input``, ``num_batches_tracked``), or the id of
a diagnosis catalog entry (``biased_running_var``). A listed property is excused only by a failure
that compares that quantity, in the dtype if one is given, or, for an entry id, by a comparison
failure of a subject whose diagnosis names that entry in an aspect that can produce the property:
a failure of another quantity, a crash or a death of the candidate fails the run as usual. A
listed property that passes fails the run as fixed: remove its entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from conformance.diagnosis.catalog import BY_NAME, Entry

_LINE = re.compile(r"^(?:(?P<impl>[^\s:]+(?::[^\s:]+)*?)::)?(?P<prop>[A-Za-z_][A-Za-z0-9_]*)"
                   r"(?:\s*\[(?P<dtype>[a-z0-9]+)\])?\s*:\s*(?P<rest>.*)$")
SYNTAX = "[implementation::]property_id [dtype]: quantity -- reason"


class DeviationsFileError(Exception):
    pass


@dataclass(frozen=True)
class Deviation:
    property_id: str
    quantity: str  # words of the failing comparison's name that the failure must show
    reason: str
    impl: str | None = None  # None: every implementation in the run
    dtype: str | None = None  # None: every dtype
    line: int = 0

    @property
    def entry(self) -> Entry | None:
        """The diagnosis catalog entry the fingerprint names, if it names one."""
        return BY_NAME.get(self.quantity)

    def describe(self) -> str:
        if self.entry is not None:
            return f"{self.entry.title}, {self.quantity} ({self.reason})"
        return f"{self.quantity} differs ({self.reason})"

    def excuses(self, compared: str | None) -> bool:
        """Whether a failure of the comparison named ``compared`` (None: not a comparison) is this deviation."""
        return compared is not None and re.search(rf"(?<!\w){re.escape(self.quantity)}(?!\w)", compared) is not None


def parse(text: str, source: str = "<known deviations>") -> list[Deviation]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        m = _LINE.match(line)
        if not m:
            raise DeviationsFileError(f"{source}:{n}: expected '{SYNTAX}', got {raw.strip()!r}")
        parts = re.split(r"\s+--(?:\s+|$)", m["rest"], maxsplit=1)
        quantity, reason = parts if len(parts) == 2 else (parts[0], None)
        if reason is None or not quantity.strip():
            raise DeviationsFileError(
                f"{source}:{n}: {m['prop']} names no quantity that differs; expected '{SYNTAX}', e.g. "
                f"'{m['prop']}: running_var -- we store the biased variance'")
        if not reason.strip():
            raise DeviationsFileError(f"{source}:{n}: {m['prop']} has no reason; every entry needs one")
        out.append(Deviation(m["prop"], quantity.strip(), reason.strip(), m["impl"], m["dtype"], n))
    return out


def load(path: str) -> list[Deviation]:
    p = Path(path)
    if not p.is_file():
        raise DeviationsFileError(f"--known-deviations: no such file {path!r}")
    return parse(p.read_text(encoding="utf-8"), str(p))


def lookup(deviations: list[Deviation], property_id: str, impl_name: str, dtype: str) -> Deviation | None:
    for d in deviations:
        if d.property_id == property_id and d.impl in (None, impl_name) and d.dtype in (None, dtype):
            return d
    return None
