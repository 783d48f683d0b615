"""A recorded run as one self-contained HTML page (``thinkcli trace ID --html FILE``).

``run_report`` builds the page from a run's record and its per-token confidences: the
question and answer, the vote, every path as a card (its confidence curve, answer,
weight, whether it voted and why not, its text shaded token by token), the plan and the
stats. ``path_cards`` and ``curve_svg`` serve the batch report's per-run summaries too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from thinkcli.answers import normalize
from thinkcli.render.htmlkit import binned, dl, esc, json_script, num, page, write_atomic
from thinkcli.render.recorded import local_time, stats_line
from thinkcli.render.shading import INSERTED, LABELS, SURE, Scale, fits, segments
from thinkcli.tokens import PathTokens
from thinkcli.vote import Ballot, weight

CURVE_POINTS = 160  # a curve's points at most: 16 paths of 4,000 tokens stay small
OPEN_UP_TO = 2  # a run with this many paths or fewer shows its reasoning unfolded
SCRIPT = """(function(){var g=document.getElementById('paths'),t=document.getElementById('toolbar');if(!g||!t)return;
t.hidden=false;t.addEventListener('click',function(e){var b=e.target.closest('button');if(!b)return;
var s=b.parentNode.querySelectorAll('button');if(b.dataset.show){g.dataset.show=b.dataset.show}
else if(b.dataset.layout){g.classList.toggle('columns',b.dataset.layout==='columns')}
else{g.querySelectorAll('details').forEach(function(d){d.open=b.dataset.open==='1'});return}
s.forEach(function(x){x.setAttribute('aria-pressed',String(x===b))})});})();"""


@dataclass(frozen=True, slots=True)
class Curve:
    """A path's token confidences ready to draw, in model-token coordinates.

    Args:
        points: the confidences, averaged down to at most ``CURVE_POINTS``.
        tokens: how many model tokens the path has.
        window: the lowest window's first and past-last token, and its mean (None without tokens).
        answer_at: the token where the answer starts (None when it has none).
    """

    points: list[float]
    tokens: int
    window: tuple[int, int, float] | None
    answer_at: int | None

    @classmethod
    def of(cls, path: PathTokens, measure: str) -> Curve:
        scored = [i for i, c in enumerate(path.confidences) if c is not None]
        rank = {entry: k for k, entry in enumerate(scored)}
        lowest = path.lowest_window(measure)
        window = None if lowest is None else (rank[lowest[0]], rank[lowest[1] - 1] + 1, lowest[2])
        answer_at = next((rank[i] for i in scored if path.ends[i] > path.split), None)
        return cls(binned(path.scored(), CURVE_POINTS), len(scored), window, answer_at)


def y_range(curves: Sequence[Curve | None]) -> tuple[float, float]:
    """One vertical range for every curve of a run (so they compare), a little wider than their values."""
    values = [v for c in curves if c for v in c.points] + [c.window[2] for c in curves if c and c.window]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = (high - low) * 0.06 or 0.5
    return low - pad, high + pad


def curve_svg(curve: Curve, span: tuple[float, float], *, label: str, width: int = 320, height: int = 86) -> str:
    """The confidence curve as inline SVG: the lowest window shaded, its mean dashed, the answer's start dotted."""
    left, top, right, bottom = 34, 5, width - 4, height - 15
    low, high = span

    def x(token: float) -> float:
        return left + (right - left) * (token / max(curve.tokens, 1))

    def y(value: float) -> float:
        return bottom - (bottom - top) * ((value - low) / ((high - low) or 1.0))

    n = len(curve.points)
    line = " ".join(f"{x((k + 0.5) * curve.tokens / n):.1f},{y(v):.1f}" for k, v in enumerate(curve.points))
    parts = [f'<rect class="frame" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"/>']
    title = label
    if curve.window is not None:
        start, end, mean = curve.window
        parts.append(f'<rect class="lw" x="{x(start):.1f}" y="{top}" width="{max(x(end) - x(start), 1.0):.1f}"'
                     f' height="{bottom - top}"/>')
        parts.append(f'<line class="lwl" x1="{left}" x2="{right}" y1="{y(mean):.1f}" y2="{y(mean):.1f}"/>')
        title += f"; lowest window: tokens {start:,}-{end:,}, mean {mean:.2f}"
    if curve.answer_at:
        parts.append(f'<line class="split" x1="{x(curve.answer_at):.1f}" x2="{x(curve.answer_at):.1f}"'
                     f' y1="{top}" y2="{bottom}"/>')
    parts.append(f'<polyline class="cv" points="{line}"/>' if n > 1 else
                 f'<circle class="pt" cx="{x(curve.tokens / 2):.1f}" cy="{y(curve.points[0]):.1f}" r="2"/>' if n else "")
    parts.append(f'<text x="{left - 3}" y="{top + 8}" text-anchor="end">{esc(num(high))}</text>'
                 f'<text x="{left - 3}" y="{bottom}" text-anchor="end">{esc(num(low))}</text>'
                 f'<text x="{left}" y="{height - 3}">0</text>'
                 f'<text x="{right}" y="{height - 3}" text-anchor="end">{curve.tokens:,} tokens</text>')
    return (f'<svg class="curve" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
            f"<title>{esc(title)}</title>{''.join(parts)}</svg>")


def shaded_html(reasoning: str, answer: str, tokens: PathTokens | None, scale: Scale, measure: str) -> tuple[str, str]:
    """The reasoning and the answer as HTML, each token's stretch classed by its level."""
    if not fits(tokens, reasoning, answer):
        return esc(reasoning), esc(answer)
    out = {False: [], True: []}
    for seg in segments(reasoning, answer, tokens, scale, measure=measure):
        classes = []
        if seg.level == INSERTED:
            classes.append("ins")
        elif seg.level is not None and seg.level < SURE and not scale.flat:
            classes.append(f"c{seg.level}")
        if seg.window:
            classes.append("w")
        text = esc(seg.text)
        out[seg.answer].append(f'<span class="{" ".join(classes)}">{text}</span>' if classes else text)
    return "".join(out[False]), "".join(out[True])


def path_weight(sample: dict) -> float | None:
    """What the path's answer weighed in the vote (None when it did not vote)."""
    if not sample.get("voted"):
        return None
    return weight(Ballot(sample.get("extracted"), float(sample.get("confidence") or 0.0), sample.get("verify_p")))


def _vote_state(sample: dict) -> tuple[str, str]:
    """A badge's class and words for whether the path voted."""
    if sample.get("voted") is None:
        return "", "no vote held"
    if sample.get("voted"):
        return "", "voted"
    return "out", "did not vote"


def path_card(number: int, sample: dict, *, chosen: bool, curve: Curve | None, span: tuple[float, float],
              texts: tuple[str, str], unfold: bool) -> str:
    """One path as a card: badges, facts, the curve, the shaded reasoning and answer."""
    state, words = _vote_state(sample)
    classes = " ".join(c for c in ("path", "chosen" if chosen else "", "voted" if sample.get("voted") else "") if c)
    badges = ('<span class="badge chosen">chosen</span>' if chosen else "") + f'<span class="badge {state}">{words}</span>'
    share = path_weight(sample)
    facts = [("answer", sample.get("extracted") if sample.get("extracted") is not None else "(none extracted)"),
             ("confidence", f"{float(sample.get('confidence') or 0):.2f}"),
             ("weight", f"{share:.2f}" if share is not None else "-")]
    if sample.get("why_not"):
        facts.append(("why not", sample["why_not"]))
    if sample.get("verify_p") is not None:
        facts.append(("P(true)", f"{sample['verify_p']:.2f}"))
    facts += [("tokens", f"{sample.get('thinking_tokens', 0):,} thinking · {sample.get('answer_tokens', 0):,} answer"),
              ("ended", f"thinking: {sample.get('think_end', '?')} · answer: {sample.get('answer_end', '?')}")]
    label = f"Path {number}: token confidence"
    chart = curve_svg(curve, span, label=label) if curve else '<p class="note">(no per-token confidences)</p>'
    reasoning, answer = texts
    body = [f'<article class="{classes}" id="path-{number}" data-path="{number}">',
            f"<header><h3>Path {number}</h3>{badges}</header>", dl(facts), chart]
    if reasoning:
        tokens = f"{sample.get('thinking_tokens', 0):,} tokens"
        body.append(f'<details{" open" if unfold else ""}><summary>reasoning · {tokens}</summary>'
                    f'<div class="text">{reasoning}</div></details>')
    if answer:
        body.append(f'<details open><summary>answer</summary><div class="text">{answer}</div></details>')
    body.append("</article>")
    return "".join(body)


def path_cards(record: dict, tokens: Sequence[PathTokens] | None) -> tuple[str, Scale]:
    """Every path of ``record`` as a card, and the run's confidence scale."""
    samples = _samples(record)
    measure = (record.get("plan") or {}).get("confidence") or "lowest"
    usable = [usable_tokens(tokens, i, s) for i, s in enumerate(samples)]
    scale = Scale.of(usable)
    curves = [Curve.of(t, measure) if t is not None and t.scored() else None for t in usable]
    span = y_range(curves)
    chosen = record.get("chosen", 0)
    cards = []
    for i, sample in enumerate(samples):
        texts = shaded_html(str(sample.get("reasoning") or ""), str(sample.get("answer") or ""), usable[i], scale, measure)
        cards.append(path_card(i + 1, sample, chosen=i == chosen, curve=curves[i], span=span, texts=texts,
                               unfold=len(samples) <= OPEN_UP_TO))
    return "\n".join(cards), scale


def _samples(record: dict) -> list[dict]:
    samples = record.get("samples") or []
    if samples:
        return samples
    return [{"reasoning": record.get("reasoning", ""), "answer": record.get("answer", ""), "confidence": 0.0}]


def usable_tokens(tokens: Sequence[PathTokens] | None, index: int, sample: dict) -> PathTokens | None:
    """Path ``index``'s tokens when they line up with its recorded texts, else None."""
    path = tokens[index] if tokens and index < len(tokens) else None
    return path if fits(path, str(sample.get("reasoning") or ""), str(sample.get("answer") or "")) else None


def legend_html(scale: Scale) -> str:
    """How to read the shading and the curves."""
    if scale.flat:
        return '<p class="legend note">No per-token confidences to shade in this run.</p>'
    levels = " ".join(f'<span class="c{i}">{esc(label)}</span>' for i, label in enumerate(LABELS))
    return (f'<p class="legend">Token confidence, least sure first: {levels} rest plain · '
            '<span class="w">underlined</span>: the lowest window, which set the path\'s confidence · '
            '<span class="ins">italic</span>: text thinkcli wrote (budget forcing).</p>'
            f'<p class="legend note">Curves: token confidence along the path (from {num(scale.low)} to '
            f'{num(scale.high)} in this run), the lowest window shaded, its mean dashed (the path\'s '
            "confidence), the answer's start dotted.</p>")


def vote_html(record: dict) -> str:
    """The vote: each answer's summed weight and its paths, and which path was chosen."""
    samples = _samples(record)
    chosen = record.get("chosen", 0)
    if len(samples) < 2 or not record.get("votes"):
        return f'<p>One path{" (no vote held)" if len(samples) < 2 else "; no answer voted"}: path {chosen + 1} answered.</p>'
    votes = record["votes"]
    heaviest = max(votes.values()) or 1.0
    leader = max(votes, key=votes.get)
    rows = []
    for answer, total in sorted(votes.items(), key=lambda kv: -kv[1]):
        paths = [str(i + 1) for i, s in enumerate(samples)
                 if s.get("voted") and s.get("extracted") and normalize(s["extracted"]) == answer]
        bar = (f'<svg width="160" height="12" viewBox="0 0 160 12"><rect class="bar{" lead" if answer == leader else ""}"'
               f' x="0" y="1" height="10" width="{max(1.0, 160 * total / heaviest):.1f}"/></svg>')
        rows.append(f"<tr><td>{esc(answer)}</td><td>{esc(', '.join(paths))}</td><td class=n>{total:.2f}</td><td>{bar}</td></tr>")
    voted = sum(1 for s in samples if s.get("voted"))
    how = "summed confidence" if record.get("vote_weights", "confidence") == "confidence" else "one vote each"
    return (f"<table><tr><th>answer</th><th>paths</th><th>weight</th><th></th></tr>{''.join(rows)}</table>"
            f'<p>{voted} of {len(samples)} paths voted ({esc(how)}); chosen: <a href="#path-{chosen + 1}">path {chosen + 1}</a>,'
            " the most confident path of the winning answer.</p>")


def glance_html(record: dict) -> str:
    """Every path in one table row: answer, confidence, weight, vote, tokens."""
    rows = []
    for i, s in enumerate(_samples(record)):
        share = path_weight(s)
        voted = "yes" if s.get("voted") else ("-" if s.get("voted") is None else f"no: {s.get('why_not') or ''}")
        rows.append(f'<tr><td><a href="#path-{i + 1}">{i + 1}</a>{" ★" if i == record.get("chosen", 0) else ""}</td>'
                    f"<td>{esc(s.get('extracted') if s.get('extracted') is not None else '-')}</td>"
                    f"<td class=n>{float(s.get('confidence') or 0):.2f}</td><td class=n>{'-' if share is None else f'{share:.2f}'}</td>"
                    f"<td>{esc(voted)}</td><td class=n>{s.get('thinking_tokens', 0):,}</td><td class=n>{s.get('answer_tokens', 0):,}</td></tr>")
    head = "<tr><th>path</th><th>answer</th><th>confidence</th><th>weight</th><th>voted</th><th>thinking</th><th>answer tok.</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _flat(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    items = []
    for key, value in data.items():
        if isinstance(value, dict):
            items += _flat(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", ", ".join(map(repr, value)) if isinstance(value, (list, tuple)) else str(value)))
    return items


def run_report(record: dict, tokens: Sequence[PathTokens] | None) -> str:
    """The whole page for one recorded run."""
    samples = _samples(record)
    cards, scale = path_cards(record, tokens)
    where = f"chat {record['session']} turn {record['turn'] + 1}" if record.get("session") else record.get("command", "")
    meta = " · ".join(str(p) for p in (local_time(record.get("started", "")), where, record.get("model", ""),
                                       f"effort {record.get('effort', '')}", f"{len(samples)} path(s)") if p)
    toolbar = ('<div class="toolbar" id="toolbar" hidden><span>show <button data-show="all" aria-pressed="true">all</button>'
               '<button data-show="voted" aria-pressed="false">voted</button><button data-show="chosen" aria-pressed="false">chosen</button></span>'
               '<span>layout <button data-layout="grid" aria-pressed="true">grid</button><button data-layout="columns" aria-pressed="false">side by side</button></span>'
               '<span>texts <button data-open="1">unfold all</button><button data-open="0">fold all</button></span></div>')
    system = f'<p class="note">system: {esc(record["system"])}</p>' if record.get("system") else ""
    no_tokens = "" if tokens else '<p class="note">This run has no per-token confidences (recorded before thinkcli kept them).</p>'
    body = [f"<header><h1>Run {esc(record.get('id', ''))}</h1><p class=\"meta\">{esc(meta)}</p></header>",
            '<div class="cols"><section><h2>Question</h2>', system,
            f'<pre class="box question">{esc(record.get("question", ""))}</pre></section>',
            f'<section><h2>Answer</h2><div class="box answer">{esc(record.get("answer", ""))}</div>'
            + ('<p class="note">(interrupted)</p>' if record.get("interrupted") else "") + "</section></div>",
            f"<section><h2>Vote</h2>{vote_html(record)}{glance_html(record) if len(samples) > 1 else ''}</section>",
            f'<section><h2>Paths</h2>{legend_html(scale)}{no_tokens}{toolbar}<div class="paths" id="paths" data-show="all">{cards}</div></section>',
            '<div class="cols"><section><h2>Plan</h2>' + (dl(_flat(record["plan"])) if record.get("plan") else "<p class=note>(not recorded)</p>")
            + f"</section><section><h2>Stats</h2>{dl(_flat(record.get('stats') or {}))}<p class=note>{esc(stats_line(record))}</p></section></div>",
            f'<footer>thinkcli · <code>thinkcli trace {esc(record.get("id", ""))}</code> prints this run in a terminal.</footer>',
            json_script("thinkcli-run", _summary(record))]
    return page(f"thinkcli run {record.get('id', '')}", "\n".join(body), script=SCRIPT)


def _summary(record: dict) -> dict:
    """The run's outline for tools that read the page."""
    return {"id": record.get("id"), "question": record.get("question", ""), "answer": record.get("answer", ""),
            "chosen": record.get("chosen", 0), "votes": record.get("votes") or {},
            "paths": [{k: s.get(k) for k in ("extracted", "confidence", "voted", "why_not", "thinking_tokens", "answer_tokens")}
                      for s in _samples(record)]}


def write_run_report(path: Path, record: dict, tokens: Sequence[PathTokens] | None) -> int:
    """Write run ``record``'s page to ``path`` atomically; returns its size in bytes."""
    return write_atomic(path, run_report(record, tokens))
