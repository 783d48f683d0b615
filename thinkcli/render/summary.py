"""The words every renderer shares: phase summaries, notes, the thinking modes.

Pure string formatting, so a pipe and a screen describe a run in the same words.
"""

from __future__ import annotations

from typing import Literal

from thinkcli.events import Explored, ThinkEnd

Thinking = Literal["live", "show", "hide"]
"""How reasoning is shown: the last lines live, printed in full, or not at all."""

_REASON_NOTES = {"budget": " (budget reached)", "length": " (context full)"}

NO_ANSWER_AFTER_THINKING = "(the model gave no answer after thinking)"
NO_ANSWER = "(the model gave no answer)"
INTERRUPTED = "(interrupted)"


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
    """``▸ Explored 5 paths · 4 of 5 agree · 3,412 tokens · 14.2s``."""
    n = len(ev.samples)
    return (
        f"▸ Explored {plural(n, 'path')} · {ev.agree} of {n} agree"
        f" · {plural(ev.tokens, 'token')} · {ev.seconds:.1f}s"
    )


def no_answer_note(thought: bool) -> str:
    """What to say when the answer came back empty."""
    return NO_ANSWER_AFTER_THINKING if thought else NO_ANSWER
