"""Strategies: how a run spends compute, chosen by name from a registry.

``single`` streams one path; ``vote`` explores several paths in one batch and
takes a confidence-weighted vote of the paths it trusts; ``vote+verify`` also
weighs each voter by the model's P(true) for its answer;
``adaptive`` adds paths only while they disagree.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator

from thinkcli.events import Done, Event, Explored, Notice, Result
from thinkcli.scheduler import Program
from thinkcli.events import SampleResult
from thinkcli.turn.run import Run, chosen_text, voters
from thinkcli.vote import Ballot, answer_counts, samples_to_add

Strategy = Callable[[Run], Program]  # events, and Open and STEP for the scheduler

ADAPTIVE_FIRST = 2  # paths in adaptive effort's first round
ADAPTIVE_STEP = 2  # paths added per later round
ADAPTIVE_SETTLED = 0.85  # stop once the leader's lead is this likely to hold
ADAPTIVE_FIRST_BUDGET = 1024  # the first round's thinking budget ("moderate")
PRUNE_MARGIN = 1.0  # nats below the first round's weakest window confidence


def single(run: Run) -> Program:
    """One path, streamed as it decodes."""
    yield from run.explore(1, stream=True)
    yield Done(run.result(0))


def vote_paths(run: Run, *, verify: bool = False) -> Program:
    """``plan.samples`` paths in one batch, then a confidence-weighted vote.

    Paths still running when they can no longer change the winner are stopped
    (``answer_end: "decided"``), so one runaway path does not hold up the answer.
    """
    yield from run.explore(run.plan.samples, stop_decided=True)
    yield from _decide(run, verify=verify)


def adaptive(run: Run) -> Program:
    """Start with two paths; add more only while the answers of those that may vote disagree."""
    most = run.plan.samples
    first = run.plan.budget
    if first.think > ADAPTIVE_FIRST_BUDGET:
        first = replace(first, think=ADAPTIVE_FIRST_BUDGET, min_think=min(first.min_think, ADAPTIVE_FIRST_BUDGET))
    yield from run.explore(min(ADAPTIVE_FIRST, most), budget=first)
    floor = min(s.confidence.lowest for s in run.samples) - PRUNE_MARGIN
    settle = ADAPTIVE_SETTLED if run.plan.settle is None else run.plan.settle
    while more := more_paths([s.result() for s in run.samples], most, settle=settle, thinking=run.plan.thinking,
                             keep=run.plan.keep):
        yield from run.explore(more, floor=floor)
    yield from _decide(run, verify=False)


def more_paths(results: list[SampleResult], most: int, *, settle: float, thinking: bool, keep: float) -> int:
    """How many paths adaptive effort adds after ``results``: none once the leading answer
    among the paths that may vote is ``settle`` likely to stay ahead, or ``most`` are spent.

    Agreement among paths that may not vote means nothing, so only voters count. Pure, so
    ``thinkcli tune`` replays adaptive effort on stored paths with this same rule.
    """
    indexes, _ = voters(results, thinking=thinking, keep=keep)
    counts = answer_counts([Ballot(results[i].extracted, 0.0) for i in indexes])
    return samples_to_add(counts, len(results), most, ADAPTIVE_STEP, threshold=settle)


def _decide(run: Run, *, verify: bool) -> Program:
    tally = run.tally()
    chosen, votes, agree = 0, {}, 1
    if tally is not None:
        result, indexes = tally
        if verify and result.leader is not None:
            before = result.leader
            yield from _verify_voters(run, indexes)
            result, indexes = run.tally() or tally
            if result.leader != before:
                yield Notice(f"verification changed the answer from {before} to {result.leader}")
        chosen, votes, agree = indexes[result.chosen], result.votes, result.agree
    final = run.result(chosen, votes)
    yield Explored(tuple(final.samples), chosen, agree, final.stats.generated_tokens, final.stats.wall_s)
    yield from chosen_text(final)
    yield Done(final)


def _verify_voters(run: Run, indexes: list[int]) -> Program:
    """The verifier's P(true) for every voting path with an answer; it scales their weight."""
    for i in indexes:
        sample = run.samples[i]
        if sample.result().extracted:
            sample.verify_p = yield from run.verify(sample.answer.strip())


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


def program(run: Run) -> Program:
    """What the scheduler drives to answer ``run``: its plan's strategy."""
    return STRATEGIES[run.plan.selection](run)


def events(run: Run) -> Iterator[Event]:
    """``run``'s events, driven alone by its scheduler (for tests and one-off uses)."""
    return run.sched.solo(program(run))


def partial(run: Run) -> Result:
    """The best answer so far, after Ctrl-C stopped the run."""
    tally = run.tally()
    if tally is None:
        return run.result(0, interrupted=True)
    result, indexes = tally
    return run.result(indexes[result.chosen], result.votes, interrupted=True)
