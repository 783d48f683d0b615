"""Intervals and paired tests for tuning on a few dozen problems.

``wilson`` is the accuracy's 95% interval (as ``batch`` gives it); ``mcnemar`` is the
exact paired test of "X is right more often than Y" on the same problems, which reads
only the problems where the two disagree; ``verdict`` says it in words, and says so
plainly when there are too few such problems for any result to tell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from thinkcli.batch.sweep import wilson

ALPHA = 0.05
# With fewer problems where two strategies disagree, even all of them going one way is
# not significant at ALPHA (one-sided: 2^-4 = 0.0625).
MIN_DISCORDANT = math.ceil(math.log2(1 / ALPHA))


@dataclass(frozen=True, slots=True)
class Paired:
    """X against Y on the same problems.

    Args:
        wins: problems X got right and Y wrong.
        losses: problems X got wrong and Y right.
        p: one-sided exact McNemar p-value of "X is right more often than Y".
    """

    wins: int
    losses: int
    p: float

    @property
    def significant(self) -> bool:
        return self.p < ALPHA

    @property
    def too_few(self) -> bool:
        """Fewer disagreements than any significant result needs."""
        return self.wins + self.losses < MIN_DISCORDANT


def mcnemar(x: Sequence[bool], y: Sequence[bool]) -> Paired:
    """The exact one-sided McNemar test of X over Y (a sign test on the disagreements)."""
    if len(x) != len(y):
        raise ValueError("paired outcomes need the same problems")
    wins = sum(1 for a, b in zip(x, y) if a and not b)
    losses = sum(1 for a, b in zip(x, y) if b and not a)
    n = wins + losses
    p = sum(math.comb(n, i) for i in range(wins, n + 1)) / 2**n if n else 1.0
    return Paired(wins, losses, p)


def verdict(test: Paired, *, against: str = "none") -> str:
    """The test in words: "beats none (p=0.01)", or why it cannot say."""
    tally = f"{test.wins} won, {test.losses} lost"
    if test.significant:
        return f"beats {against} (p={test.p:.2g}; {tally})"
    if test.too_few:
        return f"too few problems to tell ({tally})"
    return f"not shown to beat {against} (p={test.p:.2g}; {tally})"


def interval(correct: Sequence[bool]) -> tuple[float, float]:
    """The Wilson 95% interval of an accuracy."""
    return wilson(sum(bool(c) for c in correct), len(correct))


def standard_error(accuracy: float, n: int) -> float:
    return math.sqrt(accuracy * (1 - accuracy) / n) if n else 0.0
