"""The known-deviations file: properties an implementation is known to fail, each with a reason.

    # comment
    momentum_none_is_the_cumulative_average: our kernel has no batch counter
    mykernel::eval_changes_no_state: only for the implementation named mykernel

A listed property that fails is reported as a known deviation (xfail); one that
passes fails the run as fixed (strict xfail): remove its entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^(?:(?P<impl>[^\s:]+(?::[^\s:]+)*?)::)?(?P<prop>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*(?P<reason>.*)$")


class DeviationsFileError(Exception):
    pass


@dataclass(frozen=True)
class Deviation:
    property_id: str
    reason: str
    impl: str | None = None  # None: every implementation in the run
    line: int = 0


def parse(text: str, source: str = "<known deviations>") -> list[Deviation]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        m = _LINE.match(line)
        if not m:
            raise DeviationsFileError(f"{source}:{n}: expected 'property_id: reason', got {raw.strip()!r}")
        if not m["reason"].strip():
            raise DeviationsFileError(f"{source}:{n}: {m['prop']} has no reason; every entry needs one")
        out.append(Deviation(m["prop"], m["reason"].strip(), m["impl"], n))
    return out


def load(path: str) -> list[Deviation]:
    p = Path(path)
    if not p.is_file():
        raise DeviationsFileError(f"--known-deviations: no such file {path!r}")
    return parse(p.read_text(encoding="utf-8"), str(p))


def lookup(deviations: list[Deviation], property_id: str, impl_name: str) -> Deviation | None:
    for d in deviations:
        if d.property_id == property_id and d.impl in (None, impl_name):
            return d
    return None
