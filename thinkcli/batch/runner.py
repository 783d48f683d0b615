"""Solve every problem of a file at one or more effort levels, writing each result as it ends.

``run_batch`` is the loop: it skips what the output already holds, solves the rest with
the ``solve`` it is given (one engine for the whole run), records a failure and goes on,
and keeps every finished result when Ctrl-C stops it. It never renders a turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.console import Console

from thinkcli.batch.problems import Problem
from thinkcli.batch.results import ResultWriter, record
from thinkcli.errors import ThinkError
from thinkcli.events import Result

Item = tuple[Problem, str]  # a problem and the level to solve it at
Outcome = tuple[int, "Result | ThinkError"]  # an item's index and what came of it
Solver = Callable[[list[Item]], Iterator[Outcome]]


@dataclass
class Tally:
    """What a run has done so far, for progress and the exit status."""

    total: int = 0
    done: int = 0
    failed: int = 0
    graded: int = 0
    correct: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    records: list[dict] = field(default_factory=list)

    def add(self, rec: dict) -> None:
        self.records.append(rec)
        self.done += 1
        if "error" in rec:
            self.failed += 1
            return
        self.tokens += rec["stats"]["generated_tokens"]
        if "correct" in rec:
            self.graded += 1
            self.correct += bool(rec["correct"])

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        parts = [f"{self.done}/{self.total} problems"]
        if self.graded:
            parts.append(f"{self.correct}/{self.graded} correct")
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(f"{self.tokens / elapsed:.0f} tok/s" if elapsed > 0 else "")
        parts.append(f"{elapsed:.0f}s elapsed")
        if 0 < self.done < self.total:
            parts.append(f"ETA {elapsed / self.done * (self.total - self.done):.0f}s")
        return " · ".join(p for p in parts if p)


def run_batch(
    problems: list[Problem],
    levels: list[str],
    solver: Solver,
    writer: ResultWriter,
    *,
    skip: set[tuple[str, str]],
    err: Console,
    show_reasoning: bool = False,
    keep: Callable[[Problem, Result], None] | None = None,
) -> Tally:
    """Solve ``problems`` at each of ``levels`` (a problem's own effort wins when one level is asked).

    Args:
        problems: the problems, in input order.
        levels: the effort levels to run, each over every problem.
        solver: solves a list of items, yielding each one's outcome as it ends (in any
            order); a ``ThinkError`` outcome fails that problem alone.
        writer: where each record goes, in input order, as soon as its turn comes.
        skip: (id, effort) pairs already done (resuming).
        err: the stderr console, for progress (a live line on a terminal only).
        show_reasoning: put each answer's reasoning in its record.
        keep: called with each solved problem's result once its record is written (the run log).

    Returns:
        The tally, with the records written in this run. Ctrl-C propagates after every
        finished record has been written (those that finished early, out of order).
    """
    work = [(p, _level(p, lvl, levels)) for lvl in levels for p in problems]
    todo = [(p, lvl) for p, lvl in work if (p.id, lvl) not in skip]
    tally = Tally(total=len(todo))
    if len(todo) < len(work):
        err.print(f"[dim]resuming: {len(work) - len(todo)} of {len(work)} already done[/dim]", highlight=False)
    held: dict[int, tuple[dict, Result | None]] = {}
    turn = 0  # the next index to write, so records come out in input order

    def put(index: int, rec: dict, result: Result | None) -> None:
        writer.write(rec)
        tally.add(rec)
        refresh()
        if keep is not None and result is not None:
            keep(todo[index][0], result)

    with _progress(err, tally) as refresh:
        try:
            for index, outcome in solver(todo):
                problem, level = todo[index]
                if isinstance(outcome, ThinkError):
                    held[index] = (record(problem, level, None, error=str(outcome)), None)
                elif outcome.interrupted:  # half an answer is not a result: resuming solves it again
                    raise KeyboardInterrupt
                else:
                    held[index] = (record(problem, level, outcome, show_reasoning=show_reasoning), outcome)
                while turn in held:
                    put(turn, *held.pop(turn))
                    turn += 1
        finally:
            for index in sorted(held):  # finished, but a slower one before them did not
                put(index, *held.pop(index))
    return tally


def _level(problem: Problem, level: str, levels: list[str]) -> str:
    return problem.effort if problem.effort and len(levels) == 1 else level


class _progress:
    """A live progress line on a terminal's stderr; nothing when stderr is not one."""

    def __init__(self, err: Console, tally: Tally) -> None:
        self._err, self._tally, self._live = err, tally, None

    def __enter__(self):
        if self._err.is_terminal:
            from rich.live import Live
            from rich.spinner import Spinner

            self._spinner = Spinner("dots", text=self._tally.line())
            self._live = Live(self._spinner, console=self._err, transient=True, refresh_per_second=8)
            self._live.__enter__()
        return self._refresh

    def _refresh(self) -> None:
        if self._live is not None:
            self._spinner.update(text=self._tally.line())

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
        if self._tally.done:
            self._err.print(f"[dim]{self._tally.line()}[/dim]", highlight=False)
