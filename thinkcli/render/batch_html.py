"""A batch run as one self-contained HTML page (``thinkcli batch ... --report FILE.html``).

``batch_report`` draws the effort table, accuracy against tokens as an SVG curve, and
every problem's result at each level; a result recorded in the run log carries a short
summary of its paths (answers, confidences, curves) and how to open its full trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from thinkcli.render.path_html import Curve, path_weight, usable_tokens, y_range
from thinkcli.render.htmlkit import binned, esc, num, page
from thinkcli.render.recorded import first_line
from thinkcli.runlog.tokens import PathTokens

if TYPE_CHECKING:
    from thinkcli.batch.sweep import LevelSummary

SPARK_POINTS = 48  # a path's curve in a problem's summary


@dataclass(frozen=True, slots=True)
class Recorded:
    """A batch result's run in the log: its id, record and per-token confidences (None: not kept)."""

    id: int
    record: dict | None = None
    tokens: Sequence[PathTokens] | None = None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def effort_table(rows: Sequence[LevelSummary]) -> str:
    """The effort comparison, as ``thinkcli batch`` prints it."""
    head = ("effort", "accuracy", "95% interval", "think tok", "tokens", "paths", "s/problem", "tok/correct", "done")
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in rows:
        interval = "-" if r.low is None else f"{_pct(r.low)}–{_pct(r.high)}"
        accuracy = "-" if r.accuracy is None else f"{_pct(r.accuracy)} ({r.correct}/{r.graded})"
        per_correct = "-" if r.tokens_per_correct is None else f"{r.tokens_per_correct:,.0f}"
        done = f"{r.problems}" + (f" +{r.errors} failed" if r.errors else "")
        cells = (accuracy, interval, f"{r.thinking_tokens:,.0f}", f"{r.generated_tokens:,.0f}", f"{r.paths:.1f}",
                 f"{r.seconds:.1f}", per_correct, done)
        out.append(f"<tr><td>{esc(r.effort)}</td>" + "".join(f"<td class=n>{esc(c)}</td>" for c in cells) + "</tr>")
    return "".join(out) + "</table>"


def scaling_svg(rows: Sequence[LevelSummary], *, width: int = 600, height: int = 320) -> str:
    """Accuracy against mean generated tokens per problem (log scale), each level with its 95% interval."""
    points = [r for r in rows if r.accuracy is not None]
    if not points:
        return '<p class="note">No expected answers: no accuracy to plot.</p>'
    left, top, right, bottom = 48, 12, width - 16, height - 36
    logs = [math.log10(max(1.0, r.generated_tokens)) for r in points]
    lo, hi = math.floor(min(logs) * 2) / 2, math.ceil(max(logs) * 2) / 2
    if hi - lo < 0.5:
        lo, hi = lo - 0.25, hi + 0.25

    def x(tokens: float) -> float:
        return left + (right - left) * ((math.log10(max(1.0, tokens)) - lo) / (hi - lo))

    def y(share: float) -> float:
        return bottom - (bottom - top) * share

    parts = [f'<rect class="frame" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"/>']
    for share in (0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y(share):.1f}" y2="{y(share):.1f}"/>')
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{left - 6}" y="{y(share) + 3:.1f}" text-anchor="end">{100 * share:.0f}%</text>')
    for tick in _ticks(lo, hi):
        parts.append(f'<line class="grid" x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{bottom}"/>'
                     f'<text x="{x(tick):.1f}" y="{bottom + 14}" text-anchor="middle">{esc(num(tick))}</text>')
    parts.append(f'<text x="{(left + right) / 2:.0f}" y="{height - 4}" text-anchor="middle">'
                 "generated tokens per problem (log scale)</text>")
    ordered = sorted(points, key=lambda r: r.generated_tokens)
    line = " ".join(f"{x(r.generated_tokens):.1f},{y(r.accuracy):.1f}" for r in ordered)
    parts.append(f'<polyline class="cv" points="{line}"/>')
    for r in ordered:
        px, py = x(r.generated_tokens), y(r.accuracy)
        if r.low is not None:
            parts.append(f'<line class="err" x1="{px:.1f}" x2="{px:.1f}" y1="{y(r.low):.1f}" y2="{y(r.high):.1f}"/>')
        parts.append(f'<circle class="pt" cx="{px:.1f}" cy="{py:.1f}" r="4"><title>{esc(r.effort)}: {_pct(r.accuracy)}'
                     f" at {r.generated_tokens:,.0f} tokens</title></circle>"
                     f'<text x="{px + 7:.1f}" y="{py - 6:.1f}">{esc(r.effort)} {_pct(r.accuracy)}</text>')
    return (f'<svg class="scaling" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
            f"<title>Accuracy against generated tokens per problem</title>{''.join(parts)}</svg>")


def _ticks(lo: float, hi: float) -> list[float]:
    """Round token counts (1, 2, 5 times a power of ten) between 10**lo and 10**hi."""
    out = []
    for power in range(int(math.floor(lo)), int(math.ceil(hi)) + 1):
        for step in ((1,) if hi - lo > 2 else (1, 2, 5)):
            value = step * 10 ** power
            if lo <= math.log10(value) <= hi:
                out.append(float(value))
    return out


def spark_svg(path: PathTokens, span: tuple[float, float], measure: str, *, width: int = 120, height: int = 22) -> str:
    """A path's confidence curve in a line's height, its lowest window shaded."""
    curve = Curve.of(path, measure)
    low, high = span
    points = binned(path.scored(), SPARK_POINTS)

    def y(value: float) -> float:
        return height - 2 - (height - 4) * ((value - low) / ((high - low) or 1.0))

    n = len(points)
    line = " ".join(f"{width * (k + 0.5) / n:.1f},{y(v):.1f}" for k, v in enumerate(points))
    band = ""
    if curve.window is not None and curve.tokens:
        start, end, _ = curve.window
        band = (f'<rect class="lw" x="{width * start / curve.tokens:.1f}" y="0" height="{height}"'
                f' width="{max(1.0, width * (end - start) / curve.tokens):.1f}"/>')
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}">{band}'
            f'<polyline class="cv" points="{line}"/></svg>') if n > 1 else ""


def run_summary(run: Recorded) -> str:
    """A recorded result's paths in a few lines, and how to see its whole trace."""
    hint = (f'<p class="note">Whole trace: <code>thinkcli trace {run.id}</code> · '
            f"<code>thinkcli trace {run.id} --html run-{run.id}.html</code></p>")
    if run.record is None:
        return hint
    samples = run.record.get("samples") or []
    measure = (run.record.get("plan") or {}).get("confidence") or "lowest"
    tokens = [usable_tokens(run.tokens, i, s) for i, s in enumerate(samples)]
    span = y_range([Curve.of(t, measure) if t and t.scored() else None for t in tokens])
    rows = []
    for i, s in enumerate(samples):
        share = path_weight(s)
        voted = "yes" if s.get("voted") else ("-" if s.get("voted") is None else f"no: {s.get('why_not') or ''}")
        spark = spark_svg(tokens[i], span, measure) if tokens[i] and tokens[i].scored() else ""
        rows.append(f"<tr><td class=n>{i + 1}{' ★' if i == run.record.get('chosen', 0) else ''}</td>"
                    f"<td>{esc(s.get('extracted') if s.get('extracted') is not None else '-')}</td>"
                    f"<td class=n>{float(s.get('confidence') or 0):.2f}</td>"
                    f"<td class=n>{'-' if share is None else f'{share:.2f}'}</td><td>{esc(voted)}</td><td>{spark}</td></tr>")
    head = "<tr><th>path</th><th>answer</th><th>conf.</th><th>weight</th><th>voted</th><th>confidence curve</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>{hint}"


def result_cell(rec: dict | None, run: Recorded | None) -> str:
    """One problem at one level: right or wrong, the answer, the tokens, and its run."""
    if rec is None:
        return '<td class="muted">not run</td>'
    if "error" in rec:
        return f'<td class="bad">error: {esc(rec["error"])}</td>'
    mark = ('<span class="ok">✓</span> ' if rec["correct"] else '<span class="bad">✗</span> ') if "correct" in rec else ""
    answer = rec.get("extracted") if rec.get("extracted") is not None else first_line(rec.get("answer") or "", 40)
    tokens = rec.get("stats", {}).get("generated_tokens", 0)
    paths = len(rec.get("paths") or [])
    where = f"run {run.id}" if run else "not in the run log"
    summary = f"<details><summary>{esc(where)}</summary>{run_summary(run)}</details>" if run else f'<span class="note">{where}</span>'
    return (f"<td>{mark}{esc(answer or '-')}<div class=\"note\">{tokens:,} tokens · {paths} path(s)</div>"
            f"{summary}</td>")


def problems_table(records: Sequence[dict], levels: Sequence[str], runs: Mapping[tuple[str, str], Recorded]) -> str:
    """Every problem in a row, its result at each level in a column."""
    latest: dict[tuple[str, str], dict] = {}
    firsts: dict[str, dict] = {}  # each problem's first record, in input order
    for rec in records:
        key = str(rec.get("id"))
        firsts.setdefault(key, rec)
        latest[(key, str(rec.get("effort")))] = rec
    head = "<tr><th>problem</th><th>expected</th>" + "".join(f"<th>{esc(level)}</th>" for level in levels) + "</tr>"
    rows = []
    for key, first in firsts.items():
        question = first.get("question", "")
        cells = "".join(result_cell(latest.get((key, lvl)), runs.get((key, lvl))) for lvl in levels)
        rows.append(f'<tr id="problem-{esc(key)}"><td><b>{esc(key)}</b><div class="note" title="{esc(question)}">'
                    f"{esc(first_line(question, 90))}</div></td><td>{esc(first.get('expected', '-'))}</td>{cells}</tr>")
    return f"<div class=\"wide\"><table class=problems>{head}{''.join(rows)}</table></div>"


def batch_report(rows: Sequence[LevelSummary], records: Sequence[dict], levels: Sequence[str],
                 runs: Mapping[tuple[str, str], Recorded], *, source: str, model: str = "", when: str = "") -> str:
    """The whole page for a batch run.

    Args:
        rows: the effort summary (``thinkcli.batch.sweep.summarize``).
        records: the output records, in order.
        levels: the effort levels compared.
        runs: each (problem id, effort)'s run in the log, where it is known.
        source: the problem file's name.
        model: the model's name; when: the time of the run, for the header.
    """
    meta = " · ".join(p for p in (when, source, model, f"{len({str(r.get('id')) for r in records})} problems",
                                  f"levels {', '.join(levels)}") if p)
    body = [f'<header><h1>Batch report</h1><p class="meta">{esc(meta)}</p></header>',
            f"<section><h2>Effort</h2>{effort_table(rows)}</section>",
            f"<section><h2>Accuracy against tokens</h2>{scaling_svg(rows)}"
            '<p class="note">Each point is a level: its accuracy on the graded problems (with its 95% Wilson interval)'
            " against the tokens it generated per problem, all paths counted.</p></section>",
            f"<section><h2>Problems</h2>{problems_table(records, levels, runs)}</section>",
            "<footer>thinkcli batch report · <code>thinkcli log</code> lists the runs it recorded.</footer>"]
    return page(f"thinkcli batch report · {source}", "\n".join(body))
