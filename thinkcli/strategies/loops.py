"""Loop detection: has a path begun to repeat itself over and over?

``LoopDetector.add`` takes each generated token's text and says, in about a
microsecond, whether the path's latest tokens are one short cycle repeated, or
lines it has already written.
"""

from __future__ import annotations

import re
from collections import deque

MAX_PERIOD = 64  # the longest cycle, in tokens, that counts as a loop
WINDOW = 256  # how many tokens the repetition must cover before thinking is stopped
# An answer must repeat for longer: it is what the user asked for, and a grid of zeros
# written out (a 9 x 9 board is 252 tokens of one row repeated) is not a loop.
ANSWER_WINDOW = 512
# A loop may count (items "70.", "71.", ... of one unchanging line): numbers may differ
# from the cycle before in at most this share of the window's tokens. A times table, a
# column of figures or a log changes far more of its digits than that.
NUMBER_SHARE = 1 / 16
# Old lines may include lines that differ from an old one only in their numbers ("3 more
# pencils" among "2 more" and "1 more"), up to this share of their tokens. A song that
# counts down changes a number in every line: it is no loop.
NEAR_SHARE = 1 / 8
# Thinking that ends (at its budget) inside this much repetition was looping too.
PARTIAL = 64
_DIGITS = re.compile(r"\d+")
_NUMBER = "\0#"  # what every token that is only digits stands for, after its leading space


def _key(text: str) -> str:
    """``text``, or for a token of digits alone its leading whitespace and a mark for "a number"."""
    if not text[-1].isdigit():
        return text
    digits = text.lstrip()
    return text[: len(text) - len(digits)] + _NUMBER if digits.isdigit() else text


class LoopDetector:
    """Watches one path's tokens for text that keeps repeating.

    A loop is a stretch of at least ``window`` tokens, ending at the latest token,
    that is either a cycle or old lines. A cycle: every token equals the one
    ``period`` tokens before it, for some ``period`` up to ``max_period``; only
    numbers may differ, in at most ``number_share`` of the window, so a loop that
    counts its items is one. Old lines: every line of the stretch is one the path
    wrote before (since the last ``reset``), which catches a loop that varies its
    order ("2 more pencils", "1 more pencil", "2 more pencils", ...) or whose cycle
    is a long paragraph; a line that differs from an old one only in its numbers
    counts as old while such lines are at most ``NEAR_SHARE`` of the stretch. Text that repeats a shape but changes words
    or most of its numbers each time (a numbered list, a table, a times table) is
    never a loop. Tokens are compared by their text; empty pieces (bytes held back
    in the middle of a UTF-8 character) are skipped, as the piece that completes
    the character carries it.

    Only the periods at which the new token repeats an earlier one are touched:
    the distances back to that text's occurrences among the last ``max_period``
    tokens. Prose repeats few of its tokens that closely, so a token costs a
    dictionary lookup and a few steps; a loop costs more, for the few hundred
    tokens until it is found.

    Args:
        max_period: the longest cycle, in tokens.
        window: the tokens the repetition must cover; more than ``max_period``. It
            may be changed between tokens (``window`` attribute): a path's answer
            is held to a longer one than its thinking.
        number_share: the share of the window's tokens that may be numbers unlike
            the ones a cycle before.
    """

    __slots__ = ("_max", "window", "_share", "_pos", "_seen", "_texts", "_matched_at", "_runs", "_numbers", "period",
                 "_line", "_line_tokens", "_lines", "_shapes", "_old", "_near", "repeats")

    def __init__(self, max_period: int = MAX_PERIOD, window: int = WINDOW, number_share: float = NUMBER_SHARE) -> None:
        if not 0 < max_period < window:
            raise ValueError(f"need 0 < max_period < window, got {max_period} and {window}")
        self._max = max_period
        self.window = window
        self._share = number_share
        self.reset()

    def reset(self) -> None:
        """Forget everything seen (the path's text was changed from outside)."""
        self._pos = 0  # tokens seen, empty pieces not counted
        self._seen: dict[str, list[int]] = {}  # key -> its positions, the recent ones at least
        self._texts: list[str] = [""] * (self._max + 1)  # position % (max + 1) -> that token's text
        # Per period p: where a token last equalled the one p back, how many in a row
        # did, and where in that run a number differed from the one p back.
        self._matched_at = [0] * (self._max + 1)
        self._runs = [0] * (self._max + 1)
        self._numbers: list[deque[int] | None] = [None] * (self._max + 1)
        self._line: list[str] = []  # the unfinished line's text
        self._line_tokens = 0  # its tokens, counting the one that will end it
        self._lines: set[str] = set()  # every finished line
        self._shapes: set[str] = set()  # ... with its numbers masked
        self._old = 0  # tokens of the finished lines, up to the last, that were all old
        self._near = 0  # ... of which in lines old only but for their numbers
        self.period = 0  # the cycle's length in tokens, once a loop of one is found
        self.repeats = 0  # tokens of the loop after its first time through, once one is found

    def add(self, text: str) -> bool:
        """Take the next token's text; True when the path is now in a loop."""
        if not text or self.repeats:
            return self.repeats > 0
        self._pos = self._pos + 1
        return self._cycle(text) or self._old_lines(text)

    def _old_lines(self, text: str) -> bool:
        self._line_tokens += 1
        if "\n" not in text:
            self._line.append(text)
            return False
        first, *rest = text.split("\n")
        self._line.append(first)
        for piece in rest:
            self._end_line("".join(self._line))
            self._line, self._line_tokens = [piece], 0
        if self._old >= self.window and self._near <= self._old * NEAR_SHARE:
            self.repeats = self._old
        return self.repeats > 0

    def _end_line(self, line: str) -> None:
        shape = _DIGITS.sub("#", line)
        if line in self._lines:
            self._old += self._line_tokens
        elif shape in self._shapes:
            self._lines.add(line)
            self._old += self._line_tokens
            self._near += self._line_tokens
        else:
            self._lines.add(line)
            self._shapes.add(shape)
            self._old = self._near = 0

    def _cycle(self, text: str) -> bool:
        pos = self._pos
        texts = self._texts
        texts[pos % len(texts)] = text
        key = _key(text)
        where = self._seen.get(key)
        if where is None:
            self._seen[key] = [pos]
            return False
        oldest = pos - self._max
        if where[0] < oldest:
            where = self._seen[key] = [q for q in where if q >= oldest]
        matched_at, runs, numbers, found = self._matched_at, self._runs, self._numbers, 0
        for q in where:  # oldest first, so the shortest period that loops is the last found
            p = pos - q
            if matched_at[p] == pos - 1:
                runs[p] += 1
            else:
                runs[p], numbers[p] = 1, None
            matched_at[p] = pos
            if key is not text and texts[q % len(texts)] != text:
                if numbers[p] is None:
                    numbers[p] = deque()
                numbers[p].append(pos)  # type: ignore[union-attr]
            if runs[p] + p >= self.window and self._numbers_agree(p, self.window - p):
                found = p
        where.append(pos)
        if found:
            self.period, self.repeats = found, runs[found]
        return found > 0

    def _numbers_agree(self, p: int, compared: int) -> bool:
        """Few enough numbers of the last ``compared`` tokens differ from the cycle before."""
        differ = self._numbers[p]
        if not differ:
            return True
        while differ and differ[0] <= self._pos - compared:
            differ.popleft()
        return len(differ) <= compared * self._share

    def looping_now(self, least: int = PARTIAL) -> int:
        """Tokens after the first time through of a loop in progress, not yet a window long; 0 if none.

        A loop in progress is at least ``least`` tokens up to the latest token: a
        cycle repeated at least three times, or old lines (and the unfinished line
        after them). When several are, the longest counts.
        """
        if self.repeats:
            return self.repeats
        lines = self._old + self._line_tokens
        best = lines if self._old and lines >= least and self._near <= self._old * NEAR_SHARE else 0
        for p in range(1, self._max + 1):
            run = self._runs[p]
            if (self._matched_at[p] == self._pos and run > best and run >= 2 * p and run + p >= least
                    and self._numbers_agree(p, run)):
                best = run
        return best
