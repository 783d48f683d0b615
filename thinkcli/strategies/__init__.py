"""Effort strategies: how a run spends compute, chosen by name from a registry.

``single`` streams one path; ``vote`` explores several paths in one batch and
takes a confidence-weighted vote; ``vote+verify`` then checks the leader;
``adaptive`` adds paths only while they disagree.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator

from thinkcli.events import Done, Event, Explored, Notice, Result
from thinkcli.strategies.run import Plan, Run, chosen_text
from thinkcli.strategies.sample import Budget
from thinkcli.vote import answer_counts, samples_to_add

Strategy = Callable[[Run], Iterator[Event]]

ADAPTIVE_FIRST = 2  # paths in adaptive effort's first round
ADAPTIVE_STEP = 2  # paths added per later round
ADAPTIVE_SETTLED = 0.85  # stop once the leader's lead is this likely to hold
ADAPTIVE_FIRST_BUDGET = 1024  # the first round's thinking budget ("moderate")
PRUNE_MARGIN = 1.0  # nats below the first round's weakest window confidence


def single(run: Run) -> Iterator[Event]:
    """One path, streamed as it decodes."""
    yield from run.explore(1, stream=True)
    yield Done(run.result(0))


def vote_paths(run: Run, *, verify: bool = False) -> Iterator[Event]:
    """``plan.samples`` paths in one batch, then a confidence-weighted vote.

    Paths still running when they can no longer change the winner are stopped
    (``answer_end: "decided"``), so one runaway path does not hold up the answer.
    """
    yield from run.explore(run.plan.samples, stop_decided=True)
    yield from _decide(run, verify=verify)


def adaptive(run: Run) -> Iterator[Event]:
    """Start with two paths; add more only while their answers disagree."""
    most = run.plan.samples
    first = run.plan.budget
    if first.think > ADAPTIVE_FIRST_BUDGET:
        first = replace(first, think=ADAPTIVE_FIRST_BUDGET, min_think=min(first.min_think, ADAPTIVE_FIRST_BUDGET))
    yield from run.explore(min(ADAPTIVE_FIRST, most), budget=first)
    floor = min(s.confidence.lowest for s in run.samples) - PRUNE_MARGIN
    while more := samples_to_add(answer_counts([b for _, b in run.ballots()]), len(run.samples), most,
                                 ADAPTIVE_STEP, threshold=ADAPTIVE_SETTLED):
        yield from run.explore(more, floor=floor)
    yield from _decide(run, verify=False)


def _decide(run: Run, *, verify: bool) -> Iterator[Event]:
    tally = run.tally()
    chosen, votes, agree = 0, {}, 1
    if tally is not None:
        result, indexes = tally
        chosen, votes, agree = indexes[result.chosen], result.votes, result.agree
        if verify and result.leader is not None:
            p_true = run.verify(run.samples[chosen].answer.strip())
            run.samples[chosen].verify_p = p_true
            if p_true is not None and p_true < 0.5 and result.runner_up is not None:
                yield Notice("verification rejected the leading answer; taking the runner-up")
                chosen = indexes[result.runner_up]
    final = run.result(chosen, votes)
    yield Explored(tuple(final.samples), chosen, agree, final.stats.generated_tokens, final.stats.wall_s)
    yield from chosen_text(final)
    yield Done(final)


def paths_at_once(selection: str, samples: int) -> int:
    """How many paths share the context at the same time under ``selection``."""
    if selection == "adaptive":
        return min(samples, max(ADAPTIVE_FIRST, ADAPTIVE_STEP))
    return samples


STRATEGIES: dict[str, Strategy] = {
    "single": single,
    "vote": vote_paths,
    "vote+verify": lambda run: vote_paths(run, verify=True),
    "adaptive": adaptive,
}


def partial(run: Run) -> Result:
    """The best answer so far, after Ctrl-C stopped the run."""
    tally = run.tally()
    if tally is None:
        return run.result(0, interrupted=True)
    result, indexes = tally
    return run.result(indexes[result.chosen], result.votes, interrupted=True)


__all__ = ["STRATEGIES", "Budget", "Plan", "Run", "Strategy", "partial", "paths_at_once"]
