"""Loop detection: has a path begun to repeat the same few tokens over and over?

``LoopDetector.add`` takes each generated token's text and says, in about a
microsecond, whether the path's latest tokens are one short cycle repeated.
"""

from __future__ import annotations

from collections import deque

MAX_PERIOD = 64  # the longest cycle, in tokens, that counts as a loop
WINDOW = 256  # how many tokens the repetition must cover before thinking is stopped
# An answer must repeat for longer: it is what the user asked for, and a grid of zeros
# written out (a 9 x 9 board is 252 tokens of one row repeated) is not a loop.
ANSWER_WINDOW = 512


class LoopDetector:
    """Watches one path's tokens for a cycle that keeps repeating.

    A loop is a stretch of at least ``window`` tokens, ending at the latest token,
    in which every token equals the one ``period`` tokens before it, for some
    ``period`` up to ``max_period``. The match must be exact, so text that repeats
    a shape but changes something in it each time (a counted list, a table's rows,
    a multiplication table) is never a loop. Tokens are compared by their text;
    empty pieces (bytes held back in the middle of a UTF-8 character) are skipped,
    as the piece that completes the character carries it.

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
    """

    __slots__ = ("_max", "window", "_pos", "_seen", "_matched_at", "_runs", "_recent", "period")

    def __init__(self, max_period: int = MAX_PERIOD, window: int = WINDOW) -> None:
        if not 0 < max_period < window:
            raise ValueError(f"need 0 < max_period < window, got {max_period} and {window}")
        self._max = max_period
        self.window = window
        self.reset()

    def reset(self) -> None:
        """Forget everything seen (the path's text was changed from outside)."""
        self._pos = 0  # tokens seen, empty pieces not counted
        self._seen: dict[str, list[int]] = {}  # text -> its positions, recent ones at least
        # Per period p: where a token last equalled the one p back, and how many in a row did.
        self._matched_at = [0] * (self._max + 1)
        self._runs = [0] * (self._max + 1)
        self._recent: deque[str] = deque(maxlen=self._max)  # the latest texts, newest last
        self.period = 0  # the cycle's length in tokens, once a loop is found

    def add(self, text: str) -> bool:
        """Take the next token's text; True when the path is now in a loop."""
        if not text or self.period:
            return self.period > 0
        self._pos = pos = self._pos + 1
        self._recent.append(text)
        where = self._seen.get(text)
        if where is None:
            self._seen[text] = [pos]
            return False
        oldest = pos - self._max
        if where[0] < oldest:
            where = self._seen[text] = [q for q in where if q >= oldest]
        matched_at, runs, found = self._matched_at, self._runs, 0
        for q in where:  # oldest first, so the shortest period that loops is the last found
            p = pos - q
            run = runs[p] + 1 if matched_at[p] == pos - 1 else 1
            runs[p], matched_at[p] = run, pos
            if run + p >= self.window:
                found = p
        where.append(pos)
        self.period = found
        return found > 0

    @property
    def repeats(self) -> int:
        """Tokens of the loop after its first cycle (0 before a loop is found)."""
        return self._runs[self.period] if self.period else 0

    def repeated_text_length(self) -> int:
        """Characters of the loop's text after its first cycle: what a rewind removes.

        Any ``period`` tokens in a row of the loop hold the same texts, so the
        length follows from the last cycle alone.
        """
        if not self.period:
            return 0
        cycles, rest = divmod(self.repeats, self.period)
        last = list(self._recent)[-self.period :]
        return cycles * sum(map(len, last)) + sum(map(len, last[len(last) - rest :]))
