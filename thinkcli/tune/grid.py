"""The strategies ``thinkcli tune`` measures, and the points one measurement serves.

An ``Arm`` is one kind of run, measured once per problem with every path kept: direct
answers (greedy, or N sampled), thinking under a budget in the model's own format, or in
two stages (``stepwise``). ``points`` replays, from the stored paths, the vote of the first
k paths for every k (the first k of N paths are a k-path run: sample i has seed + i either
way), the vote weighted by verification where an arm's answers were checked, and adaptive
effort's stopping rule, all with the code the strategies themselves run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from thinkcli.batch.grade import grade
from thinkcli.config import EffortPreset
from thinkcli.events import SampleResult
from thinkcli.turn.strategies import ADAPTIVE_FIRST, more_paths
from thinkcli.turn.run import tally, voters

BUDGETS = (128, 512, 2048)  # thinking budgets, small to large: each 4x the one before
DIRECT_PATHS = 16
THINK_PATHS = 4
VERIFIED = 5  # the first paths of the direct arm (and every path of the largest budget) the verifier checks
DIRECT_VOTES = (1, 3, 5, 9, 16)  # k-path votes replayed from the direct arm
SETTLES = (0.6, 0.75, 0.85, 0.95)  # adaptive effort's stopping thresholds tried
ANSWER_GUESS = 160  # answer tokens per path, for the estimate before anything is measured


@dataclass(frozen=True, slots=True)
class Arm:
    """One kind of run, measured on each problem with all its paths kept.

    Args:
        name: ``greedy``, ``direct``, ``think@512``, ``stepwise@512``.
        paths: paths per problem.
        think: thinking budget per path (0: direct answers).
        fmt: the reasoning format (None: the model's own; ``stepwise``: two stages).
        greedy: temperature 0 (one path).
        reuse: the arm of the next smaller budget: its paths whose thinking ended on its
            own, under that budget, are the same paths under this one and are not decoded again.
        verify: how many of the first paths the verifier checks (P(true) of their answers).
    """

    name: str
    paths: int
    think: int = 0
    fmt: str | None = None
    greedy: bool = False
    reuse: str | None = None
    verify: int = 0

    def preset(self, name: str | None = None, *, samples: int | None = None, selection: str | None = None,
               settle: float | None = None, temperature: float | None = None) -> EffortPreset:
        """The level this arm's run is (or one of its points, with ``samples`` paths)."""
        k = samples or self.paths
        chosen = selection or ("single" if k == 1 else "vote")
        temp = 0.0 if self.greedy else temperature
        return EffortPreset(name or self.name, self.think, 0, k, chosen, temp, self.fmt, settle)

    def estimate(self) -> int:
        """Tokens one problem is expected to take before anything is measured."""
        return self.paths * (self.think + ANSWER_GUESS)


def default_grid(*, budgets: Sequence[int] = BUDGETS, direct_paths: int = DIRECT_PATHS,
                 think_paths: int = THINK_PATHS) -> list[Arm]:
    """Direct greedy; ``direct_paths`` direct answers; ``think_paths`` thinking paths at each
    budget (each reusing the one before); two-stage thinking at the middle budget."""
    arms = [Arm("greedy", 1, greedy=True), Arm("direct", direct_paths, verify=min(VERIFIED, direct_paths))]
    previous = None
    budgets = sorted(set(budgets))
    for i, budget in enumerate(budgets):
        last = i == len(budgets) - 1
        arms.append(Arm(f"think@{budget}", think_paths, budget, reuse=previous,
                        verify=think_paths if last and think_paths >= 3 else 0))
        previous = f"think@{budget}"
    if budgets:
        middle = budgets[len(budgets) // 2]
        arms.append(Arm(f"stepwise@{middle}", think_paths, middle, fmt="stepwise"))
    return arms


@dataclass(frozen=True)
class Point:
    """One strategy's outcome on each problem, replayed from an arm's stored paths.

    Args:
        label: for people ("direct, 5 votes").
        arm: the arm it comes from.
        preset: the level it would be.
        correct: per problem (None: that problem was not measured).
        tokens: generated tokens per problem.
    """

    label: str
    arm: str
    preset: EffortPreset
    correct: tuple[bool | None, ...]
    tokens: tuple[int, ...]

    @property
    def adaptive(self) -> bool:
        return self.preset.selection == "adaptive"

    def measured(self, problems: Sequence[int]) -> bool:
        return all(self.correct[i] is not None for i in problems)

    def accuracy(self, problems: Sequence[int]) -> float:
        return sum(bool(self.correct[i]) for i in problems) / max(1, len(problems))

    def mean_tokens(self, problems: Sequence[int]) -> float:
        return sum(self.tokens[i] for i in problems) / max(1, len(problems))


def path_tokens(paths: Sequence[SampleResult]) -> int:
    return sum(p.thinking_tokens + p.answer_tokens for p in paths)


def chosen_path(paths: list[SampleResult], *, thinking: bool, keep: float, verified: bool = False) -> int:
    """The path a vote over ``paths`` chooses, as ``thinkcli.turn.strategies`` decides it (one path: itself)."""
    if len(paths) == 1:
        return 0
    if not verified:
        paths = [replace(p, verify_p=None) for p in paths]
    indexes, _ = voters(paths, thinking=thinking, keep=keep)
    outcome = tally(paths, indexes)
    return 0 if outcome is None else outcome[1][outcome[0].chosen]


def adaptive_paths(paths: list[SampleResult], most: int, *, settle: float, thinking: bool, keep: float) -> int:
    """How many of ``paths`` adaptive effort would have decoded before its answer settled."""
    have = min(ADAPTIVE_FIRST, most, len(paths))
    while have < len(paths) and (more := more_paths(paths[:have], most, settle=settle, thinking=thinking, keep=keep)):
        have += more
    return min(have, len(paths))


def points(arm: Arm, measured: Sequence[list[SampleResult] | None], expected: Sequence[str], *,
           keep: float, temperature: float) -> list[Point]:
    """Every point ``arm``'s measurements serve: ``measured[i]`` is problem i's paths (None:
    not measured; an empty list: the run failed, which counts as wrong)."""
    thinking = arm.think > 0
    ks = [1] if arm.paths == 1 else sorted({k for k in DIRECT_VOTES if k <= arm.paths} | {1, arm.paths}) \
        if arm.think == 0 else [1, arm.paths]
    out = [_point(arm, measured, expected, _name(arm) if arm.greedy else f"{_name(arm)}, {_votes(k)}",
                  arm.preset(samples=k, temperature=temperature),
                  lambda paths, k=k: (paths[:k], chosen_path(paths[:k], thinking=thinking, keep=keep)))
           for k in ks]
    if arm.verify >= 3:
        k = arm.verify
        out.append(_point(arm, measured, expected, f"{_name(arm)}, {k} votes, verified",
                          arm.preset(samples=k, selection="vote+verify", temperature=temperature),
                          lambda paths: (paths[:k], chosen_path(paths[:k], thinking=thinking, keep=keep, verified=True))))
    if arm.paths >= 4:
        for settle in SETTLES:
            def replay(paths: list[SampleResult], settle: float = settle):
                used = paths[:adaptive_paths(paths, arm.paths, settle=settle, thinking=thinking, keep=keep)]
                return used, chosen_path(used, thinking=thinking, keep=keep)

            out.append(_point(arm, measured, expected, f"{_name(arm)}, adaptive up to {arm.paths}, settle {settle}",
                              arm.preset(samples=arm.paths, selection="adaptive", settle=settle,
                                         temperature=temperature), replay))
    return out


def _point(arm: Arm, measured: Sequence[list[SampleResult] | None], expected: Sequence[str], label: str,
           preset: EffortPreset, replay) -> Point:
    correct: list[bool | None] = []
    tokens: list[int] = []
    for paths, want in zip(measured, expected):
        if paths is None:
            correct.append(None)
            tokens.append(0)
        elif not paths:
            correct.append(False)
            tokens.append(0)
        else:
            used, chosen = replay(paths)
            pick = used[chosen]
            correct.append(grade(pick.answer, pick.extracted, want))
            tokens.append(path_tokens(used))
    return Point(label, arm.name, preset, tuple(correct), tuple(tokens))


def _name(arm: Arm) -> str:
    if arm.greedy:
        return "direct, greedy"
    if arm.think == 0:
        return "direct"
    return f"{'two-stage thinking' if arm.fmt == 'stepwise' else 'thinking'} {arm.think}"


def _votes(k: int) -> str:
    return "1 path" if k == 1 else f"{k} votes"


def arm_by_name(arms: Sequence[Arm]) -> Mapping[str, Arm]:
    return {arm.name: arm for arm in arms}
