"""The HTML view of a results ``Run``: one self-contained page.

Inline CSS and inline SVG, no script, nothing fetched: the page opens from a CI
artifact as it is, and its Content-Security-Policy forbids any load or script should
something slip through. Every string that comes from a run (implementation names,
exception messages, reprs, versions) passes through ``esc``; markup is built only
from this module's literals.

Sections: a summary per implementation and dtype; the conformance matrix
(properties x subjects); the diagnosis of each failing subject; a picture of which
elements a channel's statistics pool; each failure with its minimal input, expected
versus got and an error heatmap over (n, c, l); the environment.
"""

from __future__ import annotations

import html
import json
import math
from datetime import datetime, timezone

from conformance.report.groups import failure_groups
from conformance.report.model import (
    FAILING,
    DiagnosisStatus,
    FailureKind,
    Outcome,
    PropertyResult,
    Run,
    RunStatus,
    Verdict,
)

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CRASH = "crash"  # a failed cell whose failure is a crash of the candidate has a style of its own
CELL = {  # outcome: (css class, text in the matrix)
    Outcome.PASSED: ("pass", "pass"),
    Outcome.FAILED: ("fail", "FAIL"),
    CRASH: ("crash", "CRASH"),
    Outcome.ERROR: ("crash", "ERROR"),
    Outcome.KNOWN_DEVIATION: ("known", "known"),
    Outcome.FIXED: ("fixed", "FIXED"),
    Outcome.NOT_APPLICABLE: ("na", "n/a"),
    Outcome.SKIPPED: ("na", "skip"),
}
VERDICT = {  # verdict: (css class, words)
    Verdict.CONFORMS: ("ok", "conforms"),
    Verdict.CONFORMS_WITH_KNOWN_DEVIATIONS: ("known", "conform with known deviations"),
    Verdict.DOES_NOT_CONFORM: ("bad", "does not conform"),
    Verdict.NOT_CHECKED: ("none", "not checked"),
}

STYLE = """
:root { --pass:#1a7f37; --fail:#cf222e; --crash:#82071e; --known:#9a6700; --na:#6e7781; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328;
       background: #fff; }
header { background: #24292f; color: #fff; padding: 16px 28px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: #d0d7de; }
main { padding: 8px 28px 40px; max-width: 1500px; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-top: 32px; font-size: 18px; }
h3 { font-size: 15px; margin: 0 0 6px; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; overflow: auto;
      white-space: pre-wrap; word-break: break-word; max-height: 360px; margin: 6px 0; }
.banner { border: 1px solid var(--known); background: #fff8c5; padding: 8px 12px; border-radius: 6px;
          margin-top: 16px; }
.summary { margin: 16px 0 0; line-height: 1.8; }
table.matrix tfoot th, table.matrix tfoot td { background: #f6f8fa; font-size: 12px; font-weight: normal; }
.verdict.ok { color: var(--pass); font-weight: 600; } .verdict.bad { color: var(--fail); font-weight: 600; }
.verdict.none { color: var(--na); font-weight: 600; } .verdict.known { color: var(--known); font-weight: 600; }
table { border-collapse: collapse; }
table.matrix th, table.matrix td { border: 1px solid var(--line); padding: 3px 8px; }
table.matrix thead th { background: #f6f8fa; font-weight: 600; vertical-align: bottom; font-size: 12px; }
table.matrix thead th.impl { font-size: 13px; overflow-wrap: anywhere; max-width: 260px; }
.scroll { overflow-x: auto; }
table.matrix th.prop { text-align: left; font-weight: normal; font-family: ui-monospace, Menlo, Consolas, monospace;
                       font-size: 12px; }
table.matrix tr.module th { background: #eaeef2; text-align: left; font-size: 12px; color: #424a53; }
td.cell { text-align: center; font-size: 12px; font-weight: 600; min-width: 64px; }
td.cell a { color: inherit; text-decoration: none; display: block; }
.pass { background: #dafbe1; color: var(--pass); } .fail { background: #ffebe9; color: var(--fail); }
.crash { background: #ffcecb; color: var(--crash); } .known { background: #fff8c5; color: var(--known); }
.fixed { background: #ffebe9; color: var(--fail); } .na { color: var(--na); background: #f6f8fa; font-weight: normal; }
td.none { color: var(--na); }
.used { display: block; font-weight: normal; font-size: 11px; color: #424a53; }
.legend span { border: 1px solid #d0d7de; display: inline-block; padding: 1px 8px; margin-right: 6px;
               border-radius: 4px; font-size: 12px; }
.diag { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 10px 0; }
.diag.matched { border-left: 6px solid var(--known); } .diag.other { border-left: 6px solid var(--fail); }
.diag ul { margin: 6px 0; padding-left: 20px; }
table.aspects { border-collapse: collapse; margin: 6px 0; } table.aspects td, table.aspects th { padding: 2px 8px; }
.failure { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 14px 0; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 10px; color: #fff;
         background: var(--fail); vertical-align: middle; }
.badge.crash { background: var(--crash); } .badge.error { background: var(--crash); }
.badge.fixed { background: var(--fail); }
table.values td, table.values th { border: 1px solid var(--line); padding: 2px 8px;
                                   font: 12px ui-monospace, Menlo, Consolas, monospace; text-align: right; }
table.values th { background: #f6f8fa; }
table.env td, table.env th { border: 1px solid var(--line); padding: 2px 8px; text-align: left; }
.pics { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 8px 0; } figcaption { font-size: 12px; color: #57606a; max-width: 460px; }
svg text { font-family: system-ui, sans-serif; }
details summary { cursor: pointer; color: #0969da; }
.muted { color: #57606a; }
"""


def esc(value) -> str:
    """Text from a run, made inert in HTML (element content and quoted attributes alike)."""
    return html.escape("" if value is None else str(value), quote=True)


def outcome_of(r: PropertyResult) -> str:
    if r.outcome == Outcome.FAILED and r.failure is not None and r.failure.kind == FailureKind.CRASH:
        return CRASH
    return Outcome(r.outcome)


def render(run: Run, title: str = "BatchNorm1d conformance report") -> str:
    position = {s: i for i, s in enumerate(run.subjects())}
    failures = sorted((r for r in run.results if r.outcome in FAILING), key=lambda r: position.get(r.subject, 0))
    anchors = {id(r): f"f{i}" for i, r in enumerate(failures, 1)}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        _header(run, title),
        "<main>",
        _banner(run),
        _summary(run),
        _matrix(run, anchors),
        _diagnoses(run),
        _pooling_section(run),
        _groups(run, failures, anchors),
        _failures(run, failures, anchors),
        _environment(run),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


# --- header and summary ------------------------------------------------------------------


def _header(run: Run, title: str) -> str:
    when = run.environment.get("finished") or run.environment.get("started") or datetime.now(timezone.utc).isoformat(
        timespec="seconds")
    n = len(run.subjects())
    what = f"{n} implementation-dtype pair{'s' * (n != 1)}, {len(run.properties())} properties"
    return f"<header><h1>{esc(title)}</h1><p>{esc(what)} &middot; {esc(when)}</p></header>"


def _banner(run: Run) -> str:
    if run.status == RunStatus.COMPLETE:
        return ""
    why = {RunStatus.INTERRUPTED: "The run was interrupted",
           RunStatus.RUNNING: "The run had not finished when this was written"}.get(
        run.status, f"Run status: {run.status}")
    return f'<p class="banner"><b>{esc(why)}:</b> the results below are partial.</p>'


def _verdict_class(verdict: Verdict) -> str:
    return VERDICT[verdict][0]


def _summary(run: Run) -> str:
    if not run.results:
        return "<p>No conformance property was run.</p>"
    subjects = run.subjects()
    by: dict[Verdict, list[str]] = {}
    for sid in subjects:
        by.setdefault(run.verdict(sid), []).append(sid)
    parts = []
    for verdict, (cls, words) in VERDICT.items():
        if by.get(verdict):
            parts.append(f'<span class="verdict {cls}">{len(by[verdict])} {esc(words)}</span>: '
                         + ", ".join(f"<code>{esc(sid)}</code>{_exemptions(run, sid)}{_summary_used(run, sid)}"
                                     for sid in by[verdict]))
    return f'<section id="summary"><p class="summary">{"<br>".join(parts)}</p></section>'


def _exemptions(run: Run, sid: str) -> str:
    """What the verdict leaves out: known deviations excused, capabilities declared lacking."""
    known, lacks = run.known_deviations(sid), run.declared_lacks(sid)
    bits = ([f"{known} known deviation{'s' * (known != 1)}"] if known else []) + (
        [f"declares it lacks: {', '.join(lacks)}"] if lacks else []) + run.implementation_notes(sid)
    return f' <span class="muted">({esc("; ".join(bits))})</span>' if bits else ""


def _summary_used(run: Run, sid: str) -> str:
    r = run.worst_bound_used(sid)
    if r is None:
        return ""
    tip = f"{_used_title(r)} of {r.property_id}"
    return f' <span class="muted" title="{esc(tip)}">(bound used {esc(used_text(r.bound_used))})</span>'


# --- the matrix ---------------------------------------------------------------------------


def _matrix(run: Run, anchors: dict) -> str:
    subjects = run.subjects()
    if not subjects:
        return ""
    of = {r.subject: (r.implementation, r.dtype) for r in run.results}
    groups: list[list] = []  # [implementation, number of consecutive subjects]
    for sid in subjects:
        if groups and groups[-1][0] == of[sid][0]:
            groups[-1][1] += 1
        else:
            groups.append([of[sid][0], 1])
    impl_row = "".join(f'<th scope="colgroup" colspan="{n}" class="impl">{esc(name)}</th>' for name, n in groups)
    dtype_row = "".join(f'<th scope="col" title="{esc(s)}">{esc(of[s][1])}<br><span class="verdict '
                        f'{_verdict_class(run.verdict(s))}">{esc(_short(run.verdict(s)))}</span></th>'
                        for s in subjects)
    rows, module = [], None
    index = {(r.subject, r.property_id): r for r in run.results}
    for mod, prop in run.properties():
        if mod != module:
            module = mod
            rows.append(f'<tr class="module"><th colspan="{len(subjects) + 1}">{esc(mod)}</th></tr>')
        cells = []
        for s in subjects:
            r = index.get((s, prop))
            if r is None or r.module != mod:
                cells.append('<td class="cell none">&mdash;</td>')
                continue
            cls, text = CELL.get(outcome_of(r), ("na", r.outcome))
            tip = _tooltip(r)
            body = esc(text)
            if id(r) in anchors:
                body = f'<a href="#{anchors[id(r)]}">{body}</a>'
            cells.append(f'<td class="cell {cls}" title="{esc(tip)}">{body}{_used_note(r)}</td>')
        rows.append(f'<tr><th class="prop" scope="row">{esc(prop)}</th>{"".join(cells)}</tr>')
    legend = "".join(f'<span class="{c}">{esc(t)}</span>{esc(d)} '
                     for c, t, d in (("pass", "pass", "conforms"), ("fail", "FAIL", "counterexample found"),
                                     ("crash", "CRASH", "the candidate raised"), ("known", "known", "known deviation"),
                                     ("fixed", "FIXED", "listed deviation now passes"),
                                     ("na", "n/a", "not applicable")))
    return ('<section id="matrix"><h2>Conformance matrix</h2>'
            '<div class="scroll"><table class="matrix"><thead>'
            f'<tr><th rowspan="2" scope="col">property</th>{impl_row}</tr><tr>{dtype_row}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody><tfoot><tr><th scope="row">totals</th>{_totals(run, subjects)}</tr>'
            f'<tr><th scope="row" title="{esc(USED_TITLE)}">bound used (worst)</th>{_worst_used(run, subjects)}</tr>'
            '</tfoot></table></div>'
            f'<p class="legend muted">{legend}</p><p class="muted">{esc(USED_LEGEND)}</p></section>')


def _totals(run: Run, subjects) -> str:
    cells = []
    for sid in subjects:
        c = run.counts(sid)
        bad = sum(c.get(k, 0) for k in FAILING)
        text = f"{c.get('passed', 0)} pass" + (f", {bad} fail" if bad else "")
        tip = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in c.items())
        cells.append(f'<td class="cell total" title="{esc(tip)}">{esc(text)}</td>')
    return "".join(cells)


USED_TITLE = ("bound used: the largest |candidate \u2212 oracle| / bound over every comparison of every example "
              "(over 1: outside the bound)")
USED_LEGEND = ("The number under an outcome is the bound used: the largest |candidate \u2212 oracle| / bound over "
               "every comparison of every example the property ran (1 is at the bound; a bound that correct code "
               "never comes near hides bugs).")


def used_text(v: float | None) -> str:
    """A ratio in a few characters: 0, 0.031, 1.2e-05, 3.5e+05, inf."""
    if v is None:
        return "\u2014"
    if v == 0:
        return "0"
    return "inf" if math.isinf(v) else f"{v:.2g}"


def _used_title(r: PropertyResult) -> str:
    return f"{USED_TITLE}: {used_text(r.bound_used)}, in {r.bound_used_by or 'a comparison'}"


def _used_note(r: PropertyResult) -> str:
    """The cell's bound-used annotation; nothing where the property compared nothing."""
    if r.bound_used is None:
        return ""
    return f'<span class="used" title="{esc(_used_title(r))}">{esc(used_text(r.bound_used))}</span>'


def _worst_used(run: Run, subjects) -> str:
    cells = []
    for sid in subjects:
        r = run.worst_bound_used(sid)
        if r is None:
            cells.append('<td class="cell total none">&mdash;</td>')
            continue
        tip = f"{_used_title(r)} of {r.property_id}"
        cells.append(f'<td class="cell total" title="{esc(tip)}">{esc(used_text(r.bound_used))}</td>')
    return "".join(cells)


def _short(verdict: Verdict) -> str:
    return VERDICT[verdict][1]


def _tooltip(r: PropertyResult) -> str:
    bits = [Outcome(r.outcome).words]
    if r.examples and r.examples.get("tried") is not None:
        bits.append(f"{r.examples['tried']} examples")
    if r.reason:
        bits.append(r.reason)
    if r.failure is not None:
        bits.append(r.failure.message.splitlines()[0] if r.failure.message else r.failure.exception_type)
    return " | ".join(bits)[:400]


# --- diagnosis ----------------------------------------------------------------------------


def _diagnoses(run: Run) -> str:
    failing = run.failing_subjects()
    if not failing:
        return ""
    out = ['<section id="diagnosis"><h2>Diagnosis</h2>',
           '<p class="muted">Each failing implementation is probed with fixed inputs and compared with torch and '
           "with a catalog of named known deviations.</p>"]
    groups: dict = {}  # the same finding for several dtypes of one implementation is shown once
    for sid in failing:
        d = run.diagnoses.get(sid)
        impl = next(r.implementation for r in run.results if r.subject == sid)
        key = (impl, None if d is None else (d.status, d.verdict, json.dumps(d.deviations, sort_keys=True)))
        groups.setdefault(key, []).append(sid)
    for (impl, _), sids in groups.items():
        d = run.diagnoses.get(sids[0])
        dtypes = ", ".join(next(r.dtype for r in run.results if r.subject == sid) for sid in sids)
        head = f"<h3>{esc(impl)} <span class=\"muted\">({esc(dtypes)})</span></h3>"
        if d is None:
            out.append(f'<div class="diag other">{head}<p>Not diagnosed.</p></div>')
            continue
        cls = "matched" if d.status == DiagnosisStatus.MATCHED else "other"
        names = ""
        if d.deviations:
            names = "<ul>" + "".join(f"<li><b>{esc(x.get('title'))}</b> <code>{esc(x.get('name'))}</code></li>"
                                     for x in d.deviations) + "</ul>"
        aspects = _aspect_rows(d)
        details = ""
        if d.details:
            details = ("<details><summary>what the probes saw</summary><ul>"
                       + "".join(f"<li>{esc(x)}</li>" for x in d.details) + "</ul></details>")
        out.append(f'<div class="diag {cls}">{head}{names}<p>{esc(d.verdict)}</p>{aspects}{details}</div>')
    out.append("</section>")
    return "".join(out)


def _aspect_rows(d) -> str:
    """The aspects that do not simply match torch: what each shows, and the failing properties left unexplained."""
    rows = [a for a in d.aspects if a.get("status") not in ("matches_torch", "not_probed")]
    if not rows and not d.unexplained:
        return ""
    body = "".join(f"<tr><td>{esc(a.get('title'))}</td><td>{esc(str(a.get('status')).replace('_', ' '))}</td>"
                   f"<td>{esc(a.get('verdict'))}</td></tr>" for a in rows)
    table = f'<table class="aspects"><tr><th>aspect</th><th>finding</th><th>in words</th></tr>{body}</table>'
    left = ("<p>Not explained by any named aspect: " + ", ".join(f"<code>{esc(p)}</code>" for p in d.unexplained)
            + "</p>") if d.unexplained else ""
    return (table if rows else "") + left


# --- the pooling picture ------------------------------------------------------------------


def _pooling_section(run: Run) -> str:
    shape = (3, 3, 4)
    for r in run.results:
        m = r.failure.mismatch if r.failure is not None else None
        if m and len(m.get("shape") or []) == 3 and all(0 < k <= 8 for k in m["shape"]):
            shape = tuple(m["shape"])
            break
    N, C, L = shape
    c, l = min(1, C - 1), min(2, L - 1)
    right = pooling_svg(shape, c, None)
    wrong = pooling_svg(shape, c, l)
    return ('<section id="pooling"><h2>Which values pool into one channel\'s statistics</h2>'
            '<div class="pics">'
            f"<figure>{right}<figcaption><b>torch:</b> the mean and variance of channel c={c} pool every sample n "
            f"and every position l together: m = N&middot;L = {N * L} values.</figcaption></figure>"
            f"<figure>{wrong}<figcaption><b>The tutorial's reading (wrong):</b> each (channel, position) pair, here "
            f"c={c}, l={l}, normalised over the batch alone: m = N = {N} values. torch's own output contradicts it."
            "</figcaption></figure></div></section>")


def pooling_svg(shape, c: int, l: int | None) -> str:
    """N slabs of C x L cells; the cells pooled into channel c's statistics are filled."""
    N, C, L = shape
    cell, gap, pad = 18, 14, 26
    width = pad + N * (L * cell + gap) + 4
    height = pad + C * cell + 26
    items = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'viewBox="0 0 {width} {height}">',
             f"<title>{'pooled over N and L' if l is None else 'pooled over N only'}</title>"]
    for n in range(N):
        x0 = pad + n * (L * cell + gap)
        items.append(f'<text x="{x0 + L * cell / 2}" y="14" font-size="11" text-anchor="middle">n={n}</text>')
        for ci in range(C):
            for li in range(L):
                pooled = ci == c and (l is None or li == l)
                fill = "#cf222e" if pooled else "#eaeef2"
                items.append(f'<rect x="{x0 + li * cell}" y="{pad + ci * cell - 6}" width="{cell - 2}" '
                             f'height="{cell - 2}" fill="{fill}" stroke="#8c959f" stroke-width="0.5"/>')
        items.append(f'<text x="{x0 + L * cell / 2}" y="{pad + C * cell + 10}" font-size="10" text-anchor="middle" '
                     f'fill="#57606a">l &#8594;</text>')
    for ci in range(C):
        items.append(f'<text x="4" y="{pad + ci * cell + 7}" font-size="10" fill="#57606a">c{ci}</text>')
    items.append("</svg>")
    return "".join(items)


# --- failures ----------------------------------------------------------------------------------


def _groups(run: Run, failures: list[PropertyResult], anchors: dict) -> str:
    """Per failing subject, its failures grouped by the crash or the quantity they share."""
    if not failures:
        return ""
    anchor = {(r.subject, r.property_id): anchors[id(r)] for r in failures}
    out = ['<section id="groups"><h2>Failures by what they share</h2>',
           '<p class="muted">Failures with the same crash, or comparing the same quantity, are one group: '
           "read a group as one finding.</p>"]
    for sid in run.failing_subjects():
        items = []
        for g in failure_groups(run, sid):
            links = ", ".join(f'<a href="#{anchor[(sid, p)]}"><code>{esc(p)}</code></a>' for p in g.properties
                              if (sid, p) in anchor)
            items.append(f"<li><b>{esc(g.headline())}</b><br>{links}</li>")
        out.append(f"<h3>{esc(sid)}</h3><ul>{''.join(items)}</ul>")
    out.append("</section>")
    return "".join(out)


def _failures(run: Run, failures: list[PropertyResult], anchors: dict) -> str:
    if not failures:
        return ""
    out = ['<section id="failures"><h2>Failures</h2>']
    for r in failures:
        f = r.failure
        kind = Outcome.FIXED if r.outcome == Outcome.FIXED else (f.kind if f else r.outcome)
        head = (f'<article class="failure" id="{anchors[id(r)]}"><h3>{esc(r.property_id)} &mdash; {esc(r.subject)} '
                f'<span class="badge {esc(kind)}">{esc(kind)}</span></h3>')
        body = []
        if r.outcome == Outcome.FIXED:
            body.append(f"<p>Listed as a known deviation ({esc(r.reason)}) but it passes: remove its entry.</p>")
        if r.examples and r.examples.get("tried") is not None:
            ex = r.examples
            tried, why = ex.get("tried"), ex.get("stopped_because")
            body.append(f'<p class="muted">{esc(tried)} example{"s" * (tried != 1)} tried, '
                        f'{esc(ex.get("shrinks", 0))} shrinks{", stopped because " + esc(why) if why else ""}.</p>')
        if f is not None:
            body.append(f"<pre>{esc(f.exception_type)}: {esc(f.message)}</pre>")
            if f.mismatch:
                body.append(_mismatch(f.mismatch))
            if f.counterexample:
                body.append("<details open><summary>minimal input (Hypothesis' shrunk counterexample)</summary>"
                            f"<pre>{esc(f.counterexample)}</pre></details>")
        if r.reproduce:
            body.append(f"<p>Reproduce:</p><pre>{esc(r.reproduce)}</pre>")
        out.append(head + "".join(body) + "</article>")
    out.append("</section>")
    return "".join(out)


def _mismatch(m: dict) -> str:
    shape = [int(k) for k in m.get("shape") or []]
    exp, got, bound = m.get("expected") or [], m.get("got") or [], m.get("bound") or []
    size = math.prod(shape) if shape else 0
    if not shape or len(exp) != size or len(got) != size:
        return ""
    bound = bound if len(bound) == size else [0.0] * size
    names = {1: ("c",), 2: ("n", "c"), 3: ("n", "c", "l")}.get(len(shape))
    if names is None:
        return ""
    ratios = [_ratio(e, g, b) for e, g, b in zip(exp, got, bound)]
    worst = sorted(range(size), key=lambda i: -ratios[i] if not math.isnan(ratios[i]) else -math.inf)[:8]
    worst = [i for i in worst if ratios[i] > 1]
    rows = []
    for i in worst:
        idx = _unravel(i, shape)
        where = ", ".join(f"{k}={v}" for k, v in zip(names, idx))
        rows.append(f"<tr><td>{esc(where)}</td><td>{esc(_fmt(exp[i]))}</td><td>{esc(_fmt(got[i]))}</td>"
                    f"<td>{esc(_fmt(_diff(exp[i], got[i])))}</td><td>{esc(_fmt(bound[i]))}</td></tr>")
    table = ('<table class="values"><tr><th>at</th><th>expected (torch semantics)</th><th>got</th><th>|diff|</th>'
             f'<th>bound</th></tr>{"".join(rows)}</table>') if rows else ""
    off = sum(1 for x in ratios if x > 1)
    return (f"<p><b>{esc(m.get('what'))}</b>, shape ({esc(', '.join(map(str, shape)))}): {off} of {size} elements "
            "outside the bound; the worst:</p>" + table + heatmap_svg(shape, exp, got, bound))


def _diff(e, g):
    if e is None or g is None:
        return None
    return abs(g - e)


def _fmt(v) -> str:
    return "non-finite" if v is None else f"{v:.7g}"


def _ratio(e, g, b) -> float:
    """|got - expected| / bound: over 1 is outside the bound; inf where one side is non-finite."""
    if e is None and g is None:
        return 0.0
    if e is None or g is None:
        return math.inf
    d = abs(g - e)
    if d == 0:
        return 0.0
    return d / b if b and b > 0 else math.inf


def _unravel(i: int, shape) -> tuple:
    idx = []
    for k in reversed(shape):
        idx.append(i % k)
        i //= k
    return tuple(reversed(idx))


def _mix(a, b, t: float) -> str:
    return "rgb(" + ",".join(str(int(round(x + (y - x) * t))) for x, y in zip(a, b)) + ")"


def _colour(r: float, least: float = 1.0, worst: float = 1e6) -> str:
    """Green within the bound (darker towards it); red outside, from light at ``least`` to dark at
    ``worst`` (the array's smallest and largest ratios outside the bound, on a log scale, so that
    a pattern shows even when every error is 10^13 bounds); black for a non-finite value where a
    finite one was expected."""
    if r == math.inf:
        return "#24292f"
    if r <= 1:
        t = 0.0 if r <= 0 else max(0.0, min(1.0, (math.log10(r) + 4) / 4))  # 1e-4 .. 1 of the bound
        return _mix((236, 250, 240), (116, 196, 136), t)
    lo, hi = math.log10(max(least, 1.0)), math.log10(max(worst, least, 1.0))
    t = 1.0 if hi <= lo else max(0.0, min(1.0, (math.log10(r) - lo) / (hi - lo)))
    return _mix((255, 190, 180), (140, 8, 24), 0.1 + 0.9 * t)


MAX_SIDE = 40


def heatmap_svg(shape, expected, got, bound) -> str:
    """|got - expected| / bound over (n, c, l): one panel per channel, rows n, columns l.

    (N, C) is one panel (rows n, columns c); a (C,) vector is one row. Larger arrays are
    shown in blocks of the worst value so that a panel stays within MAX_SIDE cells a side.
    """
    ratios = [_ratio(e, g, b) for e, g, b in zip(expected, got, bound)]
    if len(shape) == 3:
        N, C, L = shape
        panels = [(f"c={c}", [[ratios[(n * C + c) * L + l] for l in range(L)] for n in range(N)], ("n", "l"))
                  for c in range(C)]
    elif len(shape) == 2:
        N, C = shape
        panels = [("", [[ratios[n * C + c] for c in range(C)] for n in range(N)], ("n", "c"))]
    else:
        panels = [("", [list(ratios)], ("", "c"))]
    outside = [r for r in ratios if 1 < r < math.inf]
    least, worst = min(outside, default=1.0), max(outside, default=1.0)
    blocks = [(title, _blocks(grid, axes, title), axes) for title, grid, axes in panels]
    longest = max(max(len(g), len(g[0])) for _, g, _ in blocks)
    cell = 20 if longest <= 8 else 14 if longest <= 20 else 10
    pad_top, pad_left, gap = 30, 24, 18
    widths = [len(g[0]) * cell for _, g, _ in blocks]
    legend = [(1e-3, "well inside the bound"), (1.0, "at the bound")]
    if outside:
        legend += [(least, f"{least:.2g}x the bound (the least outside)"), (worst, f"{worst:.2g}x (the worst)")]
    if math.inf in ratios:
        legend.append((math.inf, "non-finite"))
    height = max(pad_top + max(len(g) for _, g, _ in blocks) * cell + 24, pad_top + 16 * len(legend) + 4)
    width = pad_left + sum(widths) + gap * len(blocks) + 200
    items = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'viewBox="0 0 {width} {height}"><title>error heatmap: |got - expected| / bound</title>']
    x0 = pad_left
    for (title, grid, axes), w in zip(blocks, widths):
        items.append(f'<text x="{x0}" y="12" font-size="11">{esc(title)}</text>')
        items.append(f'<text x="{x0}" y="{pad_top - 5}" font-size="9" fill="#57606a">{esc(axes[1])} &#8594;</text>')
        for i, row in enumerate(grid):
            for j, (r, label) in enumerate(row):
                items.append(f'<rect x="{x0 + j * cell}" y="{pad_top + i * cell}" width="{cell - 1}" '
                             f'height="{cell - 1}" fill="{_colour(r, least, worst)}"><title>{esc(label)}: '
                             f"{esc(_ratio_text(r))}</title></rect>")
        x0 += w + gap
    if blocks[0][2][0]:
        items.append(f'<text x="2" y="{pad_top + 9}" font-size="9" fill="#57606a">{esc(blocks[0][2][0])}&#8595;</text>')
    lx = x0 + 4
    for k, (r, text) in enumerate(legend):
        y = pad_top + k * 16
        items.append(f'<rect x="{lx}" y="{y}" width="11" height="11" fill="{_colour(r, least, worst)}"/>'
                     f'<text x="{lx + 16}" y="{y + 10}" font-size="10">{esc(text)}</text>')
    items.append("</svg>")
    return "".join(items)


def _ratio_text(r: float) -> str:
    if r == math.inf:
        return "non-finite or zero bound"
    return f"|diff| = {r:.3g} x bound" + (" (outside)" if r > 1 else "")


def _blocks(grid, axes, title):
    """Cells as (worst ratio, label), merging blocks of rows and columns to fit MAX_SIDE."""
    rows, cols = len(grid), len(grid[0]) if grid else 0
    br, bc = max(1, math.ceil(rows / MAX_SIDE)), max(1, math.ceil(cols / MAX_SIDE))
    fixed = f", {title}" if title else ""
    out = []
    for i in range(0, rows, br):
        line = []
        for j in range(0, cols, bc):
            vals = [grid[a][b] for a in range(i, min(i + br, rows)) for b in range(j, min(j + bc, cols))]
            worst = max(vals, key=lambda v: -1.0 if math.isnan(v) else v)
            if br * bc > 1:
                where = (f"{axes[0]} {i}-{min(i + br, rows) - 1}{fixed}, {axes[1]} {j}-{min(j + bc, cols) - 1} "
                         "(the worst of the block)")
            else:
                where = (f"{axes[0]}={i}, " if axes[0] else "") + f"{fixed[2:] + ', ' if fixed else ''}{axes[1]}={j}"
            line.append((worst, where))
        out.append(line)
    return out


# --- environment --------------------------------------------------------------------------------


def _environment(run: Run) -> str:
    out = ['<section id="environment"><h2>Environment</h2>']
    envs = [(s.get("file", ""), s.get("environment") or {}) for s in run.sources] or [("", run.environment)]
    for name, env in envs:
        if name:
            out.append(f"<h3>{esc(name)}</h3>")
        rows = []
        for k, v in env.items():
            if isinstance(v, dict):
                v = ", ".join(f"{a} {b}" for a, b in v.items())
            elif isinstance(v, list):
                v = " ".join(str(x) for x in v)
            rows.append(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>")
        out.append(f'<table class="env">{"".join(rows)}</table>')
    if run.implementations:
        table = "".join(f"<tr><td>{esc(i.name)}</td><td>{esc(i.target)}</td><td>{esc(i.form)}</td>"
                        f"<td>{esc(', '.join(i.dtypes))}</td><td>{esc(i.device)}</td>"
                        f"<td>{esc(i.unavailable or '')}</td></tr>"
                        for i in run.implementations.values())
        out.append('<h3>Implementations</h3><table class="env"><tr><th>name</th><th>target</th><th>form</th>'
                   f"<th>dtypes</th><th>device</th><th>unavailable</th></tr>{table}</table>")
    out.append("</section>")
    return "".join(out)


def write(run: Run, path, title: str = "BatchNorm1d conformance report") -> None:
    from conformance.report.model import write_text_atomic

    write_text_atomic(path, render(run, title))
