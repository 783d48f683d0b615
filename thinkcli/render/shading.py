"""A recorded path's reasoning and answer shaded token by token by the model's confidence.

``Scale`` ranks a run's token confidences into levels (the run's least sure 5%, 15%,
30%, the rest); ``segments`` cuts a path's text into stretches of one level, marking the
lowest window (the one that set the path's confidence) and the text thinkcli wrote.
``print_confidence`` draws them on a console: colours, no colour (``NO_COLOR``: bold and
underline only), or plain text for a pipe with the lowest window between ``[[`` and ``]]``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from itertools import groupby
from typing import Literal, Sequence

from rich.console import Console
from rich.text import Text

from thinkcli.render.recorded import path_header, print_trace
from thinkcli.runlog.tokens import PathTokens

Mode = Literal["color", "mono", "plain"]
SHARES = (0.05, 0.15, 0.30)  # the levels' upper bounds, as shares of the run's tokens (least sure first)
SURE = len(SHARES)  # the level of every token above the last bound
INSERTED = -1  # the level of text thinkcli wrote into the path
OPEN, CLOSE = "[[", "]]"  # the lowest window, in plain text
LABELS = ("5%", "15%", "30%")
STYLES: dict[str, dict[int | None, str]] = {
    "color": {0: "bold red", 1: "red", 2: "yellow", SURE: "", INSERTED: "italic cyan", None: ""},
    "mono": {0: "bold", 1: "", 2: "", SURE: "", INSERTED: "italic", None: ""},
}
WINDOW_STYLE = "underline"


@dataclass(frozen=True, slots=True)
class Scale:
    """Where a run's token confidences fall: the bounds of each level.

    Args:
        bounds: the confidence at or below which a token is in level 0, 1, 2; empty
            when every token is as sure as the others (nothing to shade).
        low: the run's lowest token confidence; high: its highest.
    """

    bounds: tuple[float, ...]
    low: float
    high: float

    @classmethod
    def of(cls, paths: Sequence[PathTokens | None]) -> Scale:
        values = sorted(c for p in paths if p is not None for c in p.scored())
        if not values or values[0] == values[-1]:
            return cls((), values[0] if values else 0.0, values[-1] if values else 0.0)
        # A bound at the run's highest value would shade its surest tokens: such a level is left out.
        bounds = tuple(b for b in (values[int(share * (len(values) - 1))] for share in SHARES) if b < values[-1])
        return cls(bounds, values[0], values[-1])

    @property
    def flat(self) -> bool:
        """No token is less sure than another: there is nothing to shade."""
        return not self.bounds

    def level(self, confidence: float | None) -> int:
        """0 for the least sure tokens up to ``SURE``; ``INSERTED`` for None (thinkcli's text)."""
        if confidence is None:
            return INSERTED
        level = bisect_left(self.bounds, confidence)  # the first bound at or above it
        return level if level < len(self.bounds) else SURE


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of a path's text of one level.

    Args:
        text: the text.
        level: 0 (least sure) to ``SURE``; ``INSERTED`` for text thinkcli wrote; None where
            no token is known (text the path gained after its last token).
        window: it lies in the lowest window.
        answer: it is part of the answer (else of the reasoning).
    """

    text: str
    level: int | None
    window: bool
    answer: bool


def fits(tokens: PathTokens | None, reasoning: str, answer: str) -> bool:
    """Whether the recorded tokens cover these texts (so the shading lines up)."""
    return (tokens is not None and tokens.split == len(reasoning)
            and (not tokens.ends or tokens.ends[-1] <= len(reasoning) + len(answer)))


def segments(reasoning: str, answer: str, tokens: PathTokens, scale: Scale, *, measure: str = "lowest") -> list[Segment]:
    """The path's text cut into stretches of one level, in order, reasoning then answer."""
    text = reasoning + answer
    window = tokens.lowest_window(measure) or (0, 0, 0.0)
    split = tokens.split
    # (end, level, in the window, in the answer) of every stretch, a token across the split cut in two
    marks: list[tuple[int, int | None, bool, bool]] = []
    start = 0
    for index, (end, confidence) in enumerate(zip(tokens.ends, tokens.confidences)):
        level, inside = scale.level(confidence), window[0] <= index < window[1]
        if start < split < end:
            marks.append((split, level, inside, False))
        marks.append((end, level, inside, end > split))
        start = max(start, end)
    if start < len(text):
        if start < split:
            marks.append((split, None, False, False))
        marks.append((len(text), None, False, True))
    out: list[Segment] = []
    start = 0
    for key, group in groupby(marks, key=lambda mark: mark[1:]):
        end = max(start, max(mark[0] for mark in group))
        if end > start:
            out.append(Segment(text[start:end], *key))
        start = end
    return out


def shaded(parts: Sequence[Segment], mode: Mode) -> Text:
    """Segments as Rich text in ``color`` or ``mono`` styles (``plain``: no styles, the window bracketed)."""
    if mode == "plain":
        return Text(bracketed(parts))
    styles = STYLES[mode]
    out = Text()
    for part in parts:
        style = " ".join(s for s in (styles[part.level], WINDOW_STYLE if part.window else "") if s)
        out.append(part.text, style=style or None)
    return out


def bracketed(parts: Sequence[Segment]) -> str:
    """Segments as plain text, the lowest window between ``[[`` and ``]]``."""
    out, inside = [], False
    for part in parts:
        if part.window != inside:
            out.append(OPEN if part.window else CLOSE)
            inside = part.window
        out.append(part.text)
    if inside:
        out.append(CLOSE)
    return "".join(out)


def legend(scale: Scale, mode: Mode) -> Text:
    """One line that says how to read the shading."""
    if mode == "plain":
        return Text(f"{OPEN} {CLOSE}: each path's lowest window, the stretch that set its confidence")
    styles = STYLES[mode]
    out = Text("least sure")
    for level, label in enumerate(LABELS):
        out.append(" ")
        out.append(label, style=styles[level] or None)
    out.append(" · ")
    out.append("underlined", style=WINDOW_STYLE)
    out.append(": lowest window · ")
    out.append("italic", style=styles[INSERTED])
    out.append(": added by thinkcli")
    return out


def unavailable(record: dict, paths: Sequence[PathTokens | None] | None) -> str | None:
    """Why run ``record`` cannot be shaded, in one line; None when it can."""
    run = f"run {record['id']}" if record.get("id") is not None else "this turn"
    if not paths:
        if record.get("id") is None:
            return "this turn was not recorded, and per-token confidences are kept in the run log"
        return f"{run} has no per-token confidences (it was recorded before thinkcli kept them)"
    if record.get("vote_weights") == "majority" or Scale.of(paths).flat:
        return f"{run} has no confidences to shade (the model gave no log-probabilities)"
    return None


def print_confidence(record: dict, paths: Sequence[PathTokens | None], out: Console, *, mode: Mode,
                     path: int | None = None, measure: str = "lowest") -> Scale:
    """Print each path (or path ``path``) with its reasoning and answer shaded; returns the run's scale.

    Args:
        record: the run, as ``thinkcli log --json`` prints it.
        paths: its per-token confidences, one per path (``RunStore.tokens``).
        out: where the trace goes.
        mode: ``color``, ``mono`` or ``plain``.
        path: only this path (from 1).
        measure: how a path's token confidences made its confidence.
    """
    samples = record.get("samples") or [{"reasoning": record.get("reasoning", ""), "answer": record.get("answer", "")}]
    scale = Scale.of(paths)
    chosen = record.get("chosen", 0)
    numbers = [path] if path is not None else list(range(1, len(samples) + 1))
    for count, number in enumerate(numbers):
        sample = samples[number - 1]
        reasoning, answer = str(sample.get("reasoning") or ""), str(sample.get("answer") or "")
        tokens = paths[number - 1] if number - 1 < len(paths) else None
        if count:
            out.print()
        out.print(Text(path_header(number, samples, chosen), style="dim bold"), overflow="ellipsis", no_wrap=True)
        if not fits(tokens, reasoning, answer):
            out.print(Text("(no per-token confidences for this path)", style="dim"))
            out.print(Text(reasoning + ("\n" if reasoning and answer else "") + answer), highlight=False)
            continue
        parts = segments(reasoning, answer, tokens, scale, measure=measure)
        if reasoning:
            out.print(shaded([p for p in parts if not p.answer], mode), highlight=False)
        if answer:
            out.print(Text("answer:", style="dim bold"), highlight=False)
            out.print(shaded([p for p in parts if p.answer], mode), highlight=False)
    return scale


def print_shaded(record: dict, tokens: list | None, out: Console, err: Console, *, path: int | None,
                 no_color: bool) -> bool:
    """The trace with every token shaded by its confidence, a legend first; the plain trace, said so, without them.

    Returns:
        False when there was no reasoning to print.
    """
    reason = unavailable(record, tokens)
    if reason is not None:
        err.print(Text(f"{reason}; the plain trace follows", style="dim"), highlight=False, soft_wrap=True)
        return print_trace(record, out, path=path)
    mode = "plain" if not out.is_terminal else "mono" if no_color else "color"
    (out if out.is_terminal else err).print(legend(Scale.of(tokens), mode), highlight=False, soft_wrap=True)
    measure = (record.get("plan") or {}).get("confidence") or "lowest"
    print_confidence(record, tokens, out, mode=mode, path=path, measure=measure)
    return True
