"""The accuracy-against-tokens frontier, the levels chosen on it, and how well they hold.

``frontier`` keeps the points no cheaper point matches. ``choose`` picks the levels on
it so that compute never falls from ``none`` to ``max`` and accuracy never falls either;
``auto`` is the cheapest adaptive point as accurate as ``high`` (``high`` where none is cheaper). ``cross_validate``
chooses on all folds but one and scores on that one, so a level's accuracy is measured
on problems it was not chosen on. ``race`` drops, while measuring, a strategy whose best
point is clearly beaten by one that spends no more, so the rest of the file is not
spent on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from thinkcli.tune.grid import Point
from thinkcli.tune.stats import mcnemar, standard_error

LEVELS = ("none", "low", "medium", "high", "max", "auto")
RACE_AFTER = 16  # problems measured before a strategy can be dropped
RACE_ALPHA = 0.01  # and only when it loses this clearly


def frontier(points: Sequence[Point], problems: Sequence[int]) -> list[Point]:
    """The points, cheapest first, each more accurate than every cheaper one."""
    ranked = sorted(points, key=lambda p: (p.mean_tokens(problems), -p.accuracy(problems)))
    out: list[Point] = []
    for point in ranked:
        if not out or point.accuracy(problems) > out[-1].accuracy(problems):
            out.append(point)
    return out


def choose(points: Sequence[Point], problems: Sequence[int]) -> dict[str, Point]:
    """The levels, from the points measured on ``problems``.

    ``none`` is the best single direct path (greedy, unless a sampled one is more accurate). ``max`` is the most
    accurate point on the frontier above it; ``high`` the cheapest within one standard
    error of that (the one-standard-error rule: a gain smaller than the noise is not worth
    its tokens); ``low`` and ``medium`` the cheapest that reach a third and two thirds of
    the way from ``none`` to ``high``. ``auto`` is the cheapest adaptive point at least as
    accurate as ``high``, or ``high`` itself when adapting does not pay (no adaptive point is
    as accurate, or none is cheaper).
    """
    measured = [p for p in points if p.measured(problems)]
    fixed = [p for p in measured if not p.adaptive]
    if not fixed:
        raise ValueError("no strategy was measured on these problems")

    def acc(p: Point) -> float:
        return p.accuracy(problems)

    def tok(p: Point) -> float:
        return p.mean_tokens(problems)

    singles = [p for p in fixed if p.preset.samples == 1 and p.preset.think_budget == 0] or fixed
    none = max(singles, key=lambda p: (acc(p), p.preset.temperature == 0.0, -tok(p)))  # greedy wins a tie
    above = [p for p in fixed if p is not none and tok(p) >= tok(none) and acc(p) > acc(none)]
    line = [none] + frontier(above, problems)
    best = line[-1]
    floor = acc(best) - standard_error(acc(best), len(problems))
    high = next(p for p in line if acc(p) >= floor)
    gain = acc(high) - acc(none)
    low = next(p for p in line if acc(p) >= acc(none) + gain / 3)
    medium = next(p for p in line if acc(p) >= acc(none) + 2 * gain / 3)
    adaptive = [p for p in measured if p.adaptive and acc(p) >= acc(high)]
    auto = min([*adaptive, high], key=lambda p: (tok(p), -acc(p), not p.adaptive))
    return {"none": none, "low": low, "medium": medium, "high": high, "max": best, "auto": auto}


def cross_validate(points: Sequence[Point], problems: Sequence[int], folds: int) -> dict[str, list[int | None]]:
    """Per level, the point index it chose for each problem when that problem was held out.

    Problems go to ``folds`` folds in turn (problem j to fold j mod folds); each fold's
    levels are chosen on the others. Returns, per level, the chosen point's index in
    ``points`` for every problem position (None for a problem not in ``problems``).
    """
    folds = max(2, min(folds, len(problems)))
    size = max(problems) + 1 if problems else 0
    out: dict[str, list[int | None]] = {level: [None] * size for level in LEVELS}
    index = {id(p): i for i, p in enumerate(points)}
    for fold in range(folds):
        held = [i for j, i in enumerate(problems) if j % folds == fold]
        rest = [i for j, i in enumerate(problems) if j % folds != fold]
        if not held or not rest:
            continue
        for level, point in choose(points, rest).items():
            for i in held:
                out[level][i] = index[id(point)]
    return out


def race(by_arm: Mapping[str, Sequence[Point]], problems: Sequence[int], *,
         keep: Sequence[str] = ("greedy",)) -> dict[str, str]:
    """The arms to stop measuring, and why: each one whose most accurate point loses, by a
    paired test at ``RACE_ALPHA``, to the most accurate point of another arm that spends no
    more tokens. Arms in ``keep`` are never dropped."""
    if len(problems) < RACE_AFTER:
        return {}
    dropped: dict[str, str] = {}
    for arm, own in by_arm.items():
        if arm in keep or not own:
            continue
        best = max(own, key=lambda p: (p.accuracy(problems), -p.mean_tokens(problems)))
        rivals = [q for other, pts in by_arm.items() if other != arm for q in pts
                  if q.mean_tokens(problems) <= best.mean_tokens(problems)]
        if not rivals:
            continue
        rival = max(rivals, key=lambda q: (q.accuracy(problems), -q.mean_tokens(problems)))
        test = mcnemar([bool(rival.correct[i]) for i in problems], [bool(best.correct[i]) for i in problems])
        if test.p < RACE_ALPHA:
            dropped[arm] = (f"after {len(problems)} problems its best, {best.label} "
                            f"({best.accuracy(problems):.0%}), lost to {rival.label} "
                            f"({rival.accuracy(problems):.0%}) at no more tokens (p={test.p:.2g})")
    return dropped
