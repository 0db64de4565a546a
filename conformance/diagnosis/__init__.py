"""Diagnosis: which known deviation does a failing implementation have?

A failing property says *that* an implementation differs from torch; the diagnosis says *how*,
in words. It plays a few fixed probes on the candidate and compares what it observes with
torch's semantics and with each variant of the catalog (the same semantics with one step done
the way a known deviation does it), within the tolerances module's bounds; some entries are
side checks instead. When no variant, alone or paired (with any entries about defaults),
reproduces what the candidate does, the verdict says the deviation is not in the catalog: it
is never forced into the nearest entry. Each aspect of the semantics (the pooling axes, the
normalising variance, eps, the running update, ...) is judged on probes of its own, so a probe the
candidate cannot run costs only its aspect; a failing property that no named aspect can produce
makes the verdict "partially explained". ``diagnose`` never raises: a candidate that crashes on
every probe gets a verdict that starts with "probe crashed:".

Modules, each depending only on those listed before it:

- ``catalog``: the entries (``Entry``, ``CATALOG``, ``BY_NAME``) and the ``Semantics`` a variant changes;
- ``probes``: the ``PROBES``, the ``Observation``s they give, and ``observe``, which plays one on the candidate;
- ``variants``: ``variant`` and ``predict``, what an implementation with a variant's semantics shows on a probe;
- ``compare``: an observation compared with a prediction, within the bounds;
- ``checks``: the side checks (``SIDE_CHECKS``);
- ``gradients``: the gradient probes and what a variant predicts on them;
- ``aspects``: the ``ASPECTS`` judged one by one, and which failing properties each can explain;
- ``search``: ``diagnose``, the search aspect by aspect, and its ``Result`` and ``Status``.
"""

from __future__ import annotations

from conformance.diagnosis.aspects import ASPECTS, PROPERTY_ASPECTS, Aspect
from conformance.diagnosis.catalog import BY_NAME, CATALOG, Entry, Semantics
from conformance.diagnosis.checks import COMPUTE_CHECKS, PRECISION_CHECKS, SIDE_CHECKS
from conformance.diagnosis.probes import PROBES, STATE_KINDS, Observation, Probe, ProbeCrashed, observe
from conformance.diagnosis.search import Result, Status, diagnose
from conformance.diagnosis.variants import predict, variant

__all__ = [
    "ASPECTS",
    "BY_NAME",
    "PROPERTY_ASPECTS",
    "Aspect",
    "CATALOG",
    "COMPUTE_CHECKS",
    "PRECISION_CHECKS",
    "PROBES",
    "SIDE_CHECKS",
    "STATE_KINDS",
    "Entry",
    "Observation",
    "Probe",
    "ProbeCrashed",
    "Result",
    "Semantics",
    "Status",
    "diagnose",
    "observe",
    "predict",
    "variant",
]
