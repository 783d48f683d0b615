"""Loop detection: has a path begun to repeat itself over and over?

``LoopDetector.add`` takes each generated token's text and says, in a few
microseconds, whether the path's latest tokens are one short cycle repeated or
lines it has already written.
"""

from __future__ import annotations

import re
from collections import deque

MAX_PERIOD = 64  # the longest cycle, in tokens, that counts as a loop
WINDOW = 256  # how many tokens the repetition must cover before thinking is stopped
# An answer must repeat for longer: it is what the user asked for, and a grid of zeros
# written out (a 9 x 9 board is 252 tokens of one row repeated) is not a loop.
ANSWER_WINDOW = 384
# A loop may count (items "70.", "71.", ... of one unchanging line; "step1", "step2" on
# two lines that take turns): its numbers may differ from the cycle before, up to two
# numbers a cycle, in at most NUMBER_SHARE of the window's tokens. A countdown song, a
# table of powers or a log changes more numbers a cycle; a times table or counting aloud
# ("101, 102, 103") more of its tokens.
NUMBERS_PER_CYCLE = 2.5
NUMBER_SHARE = 1 / 8
# Old lines may include lines that differ from an old one only in their numbers ("3 more
# pencils" among "2 more" and "1 more"), in at most this share of the window. A song that
# counts down, a times table or a log changes a number in every line.
NEAR_SHARE = 1 / 2
PARTIAL = 64  # thinking that ends at its budget inside this much repetition was looping too
SHORT_LINE = 4  # a line of fewer tokens ("2", "}", a blank), if old, goes on a run of old lines but starts none
# Thinking that goes on this long in one shape, whatever its numbers do ("1.", "2.", ...
# up to "711."), is a loop too; an answer may count as long as it was asked to.
COUNTING_WINDOW = 2 * WINDOW
_NUMBER = "\0#"  # what a token of digits alone stands for, after its leading whitespace
_DIGITS = re.compile(r"\d+")
_ITEM_NUMBER = re.compile(r"^\s*(?:\d+|[a-zA-Z])[.)]\s+(?=\S)")  # "70. " or "b) " before an item's text


def _key(text: str) -> str:
    """``text``, or for a token of digits alone its leading whitespace and a mark for "a number"."""
    if not text[-1].isdigit():
        return text
    digits = text.lstrip()
    return text[: len(text) - len(digits)] + _NUMBER if digits.isdigit() else text


class LoopDetector:
    """Watches one path's tokens for text that keeps repeating.

    A loop is a stretch of at least ``window`` tokens, ending at the latest token,
    that is a cycle or old lines:

    - a cycle: every token equals the one ``period`` tokens before it, for some
      period up to ``max_period``, except that up to two numbers a cycle may change
      (``NUMBERS_PER_CYCLE``, ``NUMBER_SHARE``), so a loop that counts its items is one;
    - old lines: every line of the stretch is one the path wrote before (since the
      last ``reset``), in any order, which catches a loop that alternates ("2 more
      pencils", "1 more pencil", ...) or repeats a paragraph longer than a cycle.
      Short lines, if old, go on such a stretch but start none. A numbered item's number
      (or letter) is not part of its line, and a line unlike the old
      ones only in its other numbers counts while such lines stay few (``NEAR_SHARE``).

    Text that repeats a shape but changes words, or several numbers, each time (a
    numbered list, a table, a times table, a log) is never a loop, unless numbers
    alone change for ``counting_window`` tokens (when that is set), in a cycle or
    in lines. Tokens are
    compared by their text; empty pieces (bytes held back in the middle of a UTF-8
    character) are skipped, as the piece that completes the character carries it.

    Args:
        max_period: the longest cycle, in tokens.
        window: the tokens the repetition must cover; more than ``max_period``. It
            may be changed between tokens (the ``window`` attribute): a path's
            answer is held to a longer one than its thinking.
        number_share: ``NUMBER_SHARE``, for reading the rule at another scale.

    Attributes:
        counting_window: 0, or the tokens after which repetition in which any
            numbers change is a loop too (``COUNTING_WINDOW`` suits thinking).
    """

    __slots__ = ("window", "counting_window", "_cycles", "_lines", "period", "repeats")

    def __init__(self, max_period: int = MAX_PERIOD, window: int = WINDOW, number_share: float = NUMBER_SHARE) -> None:
        if not 0 < max_period < window:
            raise ValueError(f"need 0 < max_period < window, got {max_period} and {window}")
        self.window = window
        self.counting_window = 0
        self._cycles = _Cycles(max_period, number_share)
        self._lines = _Lines()
        self.period = 0  # the cycle's length in tokens, once a loop of one is found
        self.repeats = 0  # the loop's tokens after its first time through, once a loop is found

    def reset(self) -> None:
        """Forget everything seen (the path's text was changed from outside)."""
        self._cycles.reset()
        self._lines.reset()
        self.period = self.repeats = 0

    def add(self, text: str) -> bool:
        """Take the next token's text; True when the path is now in a loop."""
        if text and not self.repeats:
            period, repeats = self._cycles.add(text, self.window, self.counting_window)
            if not repeats:
                repeats = self._lines.add(text, self.window, self.counting_window)
            self.period, self.repeats = period, repeats
        return self.repeats > 0

    def looping_now(self, least: int = PARTIAL) -> int:
        """The repeats of a loop in progress, shorter than a window; 0 if there is none.

        A loop in progress covers at least ``least`` tokens up to the latest one: a
        cycle repeated three times or more, or old lines and the line being written.
        """
        return self.repeats or max(self._cycles.looping_now(least), self._lines.looping_now(least))


class _Cycles:
    """For every period, how many tokens in a row have equalled the one a period back.

    Only the periods at which the new token repeats an earlier one are touched: the
    distances back to that text's occurrences among the last ``max_period`` tokens.
    Prose repeats few of its tokens that closely, so a token costs a lookup and a
    few steps; a loop more, for the few hundred tokens until it is found.
    """

    def __init__(self, max_period: int, number_share: float) -> None:
        self._max = max_period
        self._share = number_share
        self.reset()

    def reset(self) -> None:
        self._pos = 0  # tokens seen, empty pieces not counted
        self._seen: dict[str, list[int]] = {}  # key -> its positions, the recent ones at least
        self._texts = [""] * (self._max + 1)  # position % (max + 1) -> that token's text
        self._matched_at = [0] * (self._max + 1)  # per period: where a token last equalled the one back
        self._runs = [0] * (self._max + 1)  # ... and how many did in a row
        self._changes: list[_Changes | None] = [None] * (self._max + 1)  # ... and where numbers differed

    def add(self, text: str, window: int, counting: int) -> tuple[int, int]:
        """The shortest period that now loops and its repeats, or (0, 0)."""
        self._pos = pos = self._pos + 1
        texts = self._texts
        texts[pos % len(texts)] = text
        key = _key(text)
        where = self._seen.get(key)
        if where is None:
            self._seen[key] = [pos]
            return 0, 0
        if where[0] < pos - self._max:
            where = self._seen[key] = [q for q in where if q >= pos - self._max]
        matched_at, runs, changes, found = self._matched_at, self._runs, self._changes, 0
        for q in where:  # oldest first, so the shortest period that loops is the last found
            p = pos - q
            if matched_at[p] == pos - 1:
                runs[p] += 1
            else:
                runs[p], changes[p] = 1, None
            matched_at[p] = pos
            if key is not text and texts[q % len(texts)] != text:
                changes[p] = changes[p] or _Changes()
                changes[p].add(pos)  # type: ignore[union-attr]
            if runs[p] + p >= window and (self._few_changes(p, window - p) or 0 < counting <= runs[p] + p):
                found = p
        where.append(pos)
        return (found, runs[found]) if found else (0, 0)

    def _few_changes(self, p: int, compared: int) -> bool:
        changes = self._changes[p]
        cycles = compared / p
        numbers = cycles * NUMBERS_PER_CYCLE + 1
        return changes is None or changes.few(self._pos - compared, numbers, compared * self._share)

    def looping_now(self, least: int) -> int:
        best = 0
        for p in range(1, self._max + 1):
            run = self._runs[p]
            if (self._matched_at[p] == self._pos and run > best and run >= 2 * p and run + p >= least
                    and self._few_changes(p, run)):
                best = run
        return best


class _Changes:
    """Where, in one period's run, a number differed from the one a cycle before."""

    __slots__ = ("tokens", "numbers")

    def __init__(self) -> None:
        self.tokens: deque[int] = deque()  # positions of the differing tokens
        self.numbers: deque[int] = deque()  # ... of the first of each number's differing tokens

    def add(self, pos: int) -> None:
        if not self.tokens or self.tokens[-1] != pos - 1:
            self.numbers.append(pos)
        self.tokens.append(pos)

    def few(self, since: int, numbers: float, tokens: float) -> bool:
        """At most ``numbers`` numbers in at most ``tokens`` tokens changed after ``since``."""
        for positions in (self.tokens, self.numbers):
            while positions and positions[0] <= since:
                positions.popleft()
        return len(self.numbers) <= numbers and len(self.tokens) <= tokens


class _Lines:
    """How many tokens the finished lines have been, in a row, lines written before."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._count = 0  # tokens seen, empty pieces not counted
        self._line: list[str] = []  # the unfinished line's text
        self._tokens = 0  # its tokens, the one that will end it included
        self._lines: set[str] = set()  # every finished line
        self._shapes: set[str] = set()  # ... with its numbers masked
        self._old = 0  # tokens of the finished lines, up to the last, that were all old
        self._near: deque[tuple[int, int]] = deque()  # (end, tokens) of those old but for their numbers

    def add(self, text: str, window: int, counting: int) -> int:
        """The repeats if old lines now cover the window (or lines old but for their numbers, ``counting``), else 0."""
        self._count += 1
        self._tokens += 1
        if "\n" not in text:
            self._line.append(text)
            return 0
        first, *rest = text.split("\n")
        self._line.append(first)
        for piece in rest:
            self._end_line("".join(self._line))
            self._line, self._tokens = [piece], 0
        if self._old >= window and (self._few_near(window) or 0 < counting <= self._old):
            return self._old
        return 0

    def _end_line(self, line: str) -> None:
        if self._tokens < SHORT_LINE:  # a column of dice rolls is old lines, and no loop
            if line in self._lines:
                self._old += self._tokens if self._old else 0
                return
            self._lines.add(line)
            self._old = 0
            self._near.clear()
            return
        line = _ITEM_NUMBER.sub("", line)
        shape = _DIGITS.sub("#", line)
        if line in self._lines:
            self._old += self._tokens
        elif shape in self._shapes:
            self._lines.add(line)
            self._old += self._tokens
            self._near.append((self._count, self._tokens))
        else:
            self._lines.add(line)
            self._shapes.add(shape)
            self._old = 0
            self._near.clear()

    def _few_near(self, window: int) -> bool:
        """Lines old but for their numbers are at most ``NEAR_SHARE`` of the last ``window`` tokens."""
        near = self._near
        while near and near[0][0] <= self._count - window:
            near.popleft()
        return sum(tokens for _, tokens in near) <= window * NEAR_SHARE

    def looping_now(self, least: int) -> int:
        lines = self._old + self._tokens
        return lines if self._old and lines >= least and self._few_near(lines) else 0
