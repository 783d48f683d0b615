"""The words every renderer shares: phase summaries, notes, the thinking modes.

Pure string formatting, so a pipe and a screen describe a run in the same words.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from thinkcli.events import AnswerEnd, Explored, Result, SampleResult, ThinkEnd

Thinking = Literal["live", "show", "hide"]
"""How reasoning is shown: the last lines live, printed in full, or not at all."""

_REASON_NOTES = {"budget": " (budget reached)", "length": " (context full)", "loop": " (stopped a loop)"}

NO_ANSWER_AFTER_THINKING = "(the model gave no answer after thinking)"
NO_ANSWER = "(the model gave no answer)"
INTERRUPTED = "(interrupted)"
PARTIAL = "(interrupted: the best answer so far, unfinished)"
_CUT_NOTES = {
    "length": "(the answer was cut off at the token limit)",
    "loop": "(the answer was stopped: it kept repeating itself)",
}
_TALLY_CHARS = 16


def plural(count: int, word: str) -> str:
    """``1 token``, ``3,412 tokens``."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def thought_line(seconds: float, tokens: int, reason: ThinkEnd) -> str | None:
    """The line that replaces the thinking display.

    Args:
        seconds: How long the model thought.
        tokens: How many thinking tokens it spent.
        reason: Why thinking ended; ``"none"`` means thinking was disabled.

    Returns:
        ``▸ Thought for 4.2s · 312 tokens`` (with a note when forced closed),
        or None when there was no thinking to summarize.
    """
    if reason == "none":
        return None
    note = _REASON_NOTES.get(reason, "")
    return f"▸ Thought for {seconds:.1f}s · {plural(tokens, 'token')}{note}"


def explored_line(ev: Explored) -> str:
    """``▸ Explored 3 paths · 8 ×2 · 7 ×1 → 8 · 3,412 tokens · 14.2s``."""
    n = len(ev.samples)
    return (
        f"▸ Explored {plural(n, 'path')} · {tally(ev.samples, ev.chosen)}"
        f" · {plural(ev.tokens, 'token')} · {ev.seconds:.1f}s"
    )


def tally(samples: tuple[SampleResult, ...] | list[SampleResult], chosen: int) -> str:
    """How the paths voted and why the winner won: ``8 ×2 · 7 ×1 → 8``.

    ``most confident`` marks a winner picked among tied answers (or with no
    answers to count), ``by confidence`` one outvoted in numbers but not in
    weight, ``verified`` a winner the model confirmed; pruned paths are counted
    apart because they do not vote, and so are paths stopped once they could
    not change the winner and paths stopped in a loop (unless they voted after
    all, because no path could be trusted).
    """
    apart = {
        "pruned": [s.think_end == "pruned" for s in samples],
        "stopped, decided": [s.answer_end == "decided" for s in samples],
        "looped": [looped(s) and not s.voted for s in samples],
    }
    voting = [s for i, s in enumerate(samples) if not any(flags[i] for flags in apart.values())]
    counts = Counter(_short(s.extracted) for s in voting if s.extracted is not None)
    extra = "".join(f" · {sum(flags)} {word}" for word, flags in apart.items() if any(flags))
    winner = samples[chosen] if 0 <= chosen < len(samples) else None
    if not counts or winner is None or winner.extracted is None:
        return f"no answers to compare → most confident{extra}"
    mine, top = counts[_short(winner.extracted)], max(counts.values())
    why = ""
    if mine < top:
        why = ", by confidence"
    elif list(counts.values()).count(top) > 1:
        why = ", most confident"
    if winner.verified:
        why += ", verified"
    votes = " · ".join(f"{answer} ×{count}" for answer, count in counts.most_common())
    return f"{votes} → {_short(winner.extracted)}{why}{extra}"


def looped(sample: SampleResult) -> bool:
    """The path was stopped going round in a loop, in its thinking or its answer."""
    return sample.think_end == "loop" or sample.answer_end == "loop"


def _short(answer: str) -> str:
    flat = " ".join(answer.split())
    return flat if len(flat) <= _TALLY_CHARS else flat[: _TALLY_CHARS - 1] + "…"


def cut_note(result: Result) -> str | None:
    """What to say after an answer that did not end by itself, or None."""
    if not result.samples or not 0 <= result.chosen < len(result.samples):
        return None
    end: AnswerEnd = result.samples[result.chosen].answer_end
    return _CUT_NOTES.get(end)


def interrupted_thought_line(seconds: float, tokens: int) -> str:
    """The folded line of thinking that Ctrl-C cut short."""
    return f"▸ Thought for {seconds:.1f}s · {plural(tokens, 'token')} {INTERRUPTED}"


def no_answer_note(thought: bool) -> str:
    """What to say when the answer came back empty."""
    return NO_ANSWER_AFTER_THINKING if thought else NO_ANSWER
