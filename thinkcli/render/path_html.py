"""A run's paths as HTML: each one's confidence curve (inline SVG) and its text shaded token by token.

``path_cards`` draws every path of a recorded run as a card: badges (chosen, voted or
why not), facts, the curve and the shaded reasoning and answer. The run page
(``thinkcli.render.html``) and the batch page (``thinkcli.render.batch_html``) use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from thinkcli.render.htmlkit import binned, dl, esc, num
from thinkcli.render.shading import INSERTED, SURE, Scale, fits, segments
from thinkcli.runlog.tokens import PathTokens
from thinkcli.vote import Ballot, weight

CURVE_POINTS = 160  # a curve's points at most: 16 paths of 4,000 tokens stay small
OPEN_UP_TO = 2  # a run with this many paths or fewer shows its reasoning unfolded


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


def _facts(sample: dict) -> list[tuple[str, str]]:
    """What a card says of its path: answer, confidence, weight, why it did not vote, tokens, how it ended."""
    share = path_weight(sample)
    facts = [("answer", sample.get("extracted") if sample.get("extracted") is not None else "(none extracted)"),
             ("confidence", f"{float(sample.get('confidence') or 0):.2f}"),
             ("weight", f"{share:.2f}" if share is not None else "-")]
    if sample.get("why_not"):
        facts.append(("why not", sample["why_not"]))
    if sample.get("verify_p") is not None:
        facts.append(("P(true)", f"{sample['verify_p']:.2f}"))
    return facts + [
        ("tokens", f"{sample.get('thinking_tokens', 0):,} thinking · {sample.get('answer_tokens', 0):,} answer"),
        ("ended", f"thinking: {sample.get('think_end', '?')} · answer: {sample.get('answer_end', '?')}")]


def path_card(number: int, sample: dict, *, chosen: bool, curve: Curve | None, span: tuple[float, float],
              texts: tuple[str, str], unfold: bool) -> str:
    """One path as a card: badges, facts, the curve, the shaded reasoning and answer (``texts``, as HTML)."""
    state, words = _vote_state(sample)
    classes = " ".join(c for c in ("path", "chosen" if chosen else "", "voted" if sample.get("voted") else "") if c)
    badges = ('<span class="badge chosen">chosen</span>' if chosen else "") + f'<span class="badge {state}">{words}</span>'
    chart = (curve_svg(curve, span, label=f"Path {number}: token confidence") if curve
             else '<p class="note">(no per-token confidences)</p>')
    reasoning, answer = texts
    body = [f'<article class="{classes}" id="path-{number}" data-path="{number}">',
            f"<header><h3>Path {number}</h3>{badges}</header>", dl(_facts(sample)), chart]
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
    samples = samples_of(record)
    measure = (record.get("plan") or {}).get("confidence") or "lowest"
    usable = [usable_tokens(tokens, i, s) for i, s in enumerate(samples)]
    scale = Scale.of(usable)
    curves = [Curve.of(t, measure) if t is not None and t.scored() else None for t in usable]
    span = y_range(curves)
    chosen = record.get("chosen", 0)
    cards = []
    for i, sample in enumerate(samples):
        texts = shaded_html(str(sample.get("reasoning") or ""), str(sample.get("answer") or ""), usable[i], scale,
                            measure)
        cards.append(path_card(i + 1, sample, chosen=i == chosen, curve=curves[i], span=span, texts=texts,
                               unfold=len(samples) <= OPEN_UP_TO))
    return "\n".join(cards), scale


def samples_of(record: dict) -> list[dict]:
    """The run's paths; a record that kept none has its chosen reasoning and answer as one."""
    samples = record.get("samples") or []
    if samples:
        return samples
    return [{"reasoning": record.get("reasoning", ""), "answer": record.get("answer", ""), "confidence": 0.0}]


def usable_tokens(tokens: Sequence[PathTokens] | None, index: int, sample: dict) -> PathTokens | None:
    """Path ``index``'s tokens when they line up with its recorded texts, else None."""
    path = tokens[index] if tokens and index < len(tokens) else None
    return path if fits(path, str(sample.get("reasoning") or ""), str(sample.get("answer") or "")) else None


