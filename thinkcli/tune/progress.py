"""How far ``thinkcli tune`` is, and how long the rest will take.

Before measuring, a few seconds of decoding (``calibrate``) give the speed, and the
grid's token estimate gives the work: the ETA is said up front. While measuring, a bar on
a terminal's stderr (a line every half minute elsewhere) re-estimates what is left from
what each strategy has really spent per problem.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from rich.console import Console

from thinkcli.batch.problems import Problem
from thinkcli.config import EffortPreset
from thinkcli.events import Done
from thinkcli.scheduler import Program
from thinkcli.session import Session
from thinkcli.turn.run import Run
from thinkcli.tune.grid import Arm

CALIBRATE_PATHS = 16
CALIBRATE_TOKENS = 24
LINE_EVERY_S = 30.0


def calibrate(session: Session, problem: Problem) -> tuple[float, list[str]]:
    """Tokens per second of ``CALIBRATE_PATHS`` short paths decoded together on ``problem``,
    and the session's notices (the model's prompt format, say)."""
    messages = session.messages(problem.question, system=problem.system)
    plan = session.plan(messages, EffortPreset("calibrate", 0, 0, CALIBRATE_PATHS, "vote"))
    plan = replace(plan, budget=replace(plan.budget, max_answer=CALIBRATE_TOKENS))
    turn = session.turn(messages, plan)
    run = turn.run
    started = time.perf_counter()
    for _ in run.sched.solo(_paths(run)):
        pass
    seconds = time.perf_counter() - started
    return (run.stats.generated_tokens / seconds if seconds > 0 else 0.0), turn.notices


def _paths(run: Run) -> Program:
    yield from run.explore(run.plan.samples)
    yield Done(run.result(0))


class Meter:
    """The progress of one tuning run: tokens decoded against tokens still expected.

    Args:
        err: where it is drawn (a bar on a terminal, a line now and then elsewhere).
        arms: the grid.
        problems: how many problems.
        runner: tells which measurements exist already.
    """

    def __init__(self, err: Console, arms: Sequence[Arm], problems: int, runner) -> None:
        self.err = err
        self.arms = {arm.name: arm for arm in arms}
        self.problems = problems
        self.runner = runner
        self.rate = 0.0  # tokens per second: calibrated, then measured
        self.done = 0
        self.started = time.perf_counter()
        self.spent: dict[str, list[int]] = {name: [] for name in self.arms}
        self.todo: dict[str, int] = {name: 0 for name in self.arms}
        self._bar = None
        self._task = None
        self._said = 0.0

    def left(self, problems: Sequence[Problem], dropped: dict[str, str]) -> int:
        """Count the measurements still to make."""
        for name, arm in self.arms.items():
            self.todo[name] = 0 if name in dropped else sum(
                1 for p in problems if not self.runner.store.has(self.runner.key(arm, p)))
        return sum(self.todo.values())

    def expected(self) -> float:
        """Tokens the measurements still to make are expected to take."""
        return sum(n * self._per_problem(name) for name, n in self.todo.items())

    def _per_problem(self, name: str) -> float:
        """What one problem of arm ``name`` costs: as measured so far, else the grid's guess
        (half of it where a smaller budget's paths that stopped early carry over)."""
        spent = self.spent[name]
        if spent:
            return sum(spent) / len(spent)
        arm = self.arms[name]
        return arm.estimate() / (2 if arm.reuse else 1)

    def announce(self, rate: float) -> None:
        """Say the work and the time it should take, before it starts."""
        self.rate = rate
        tokens = self.expected()
        minutes = tokens / rate / 60 if rate > 0 else float("nan")
        self.err.print(f"about {tokens:,.0f} tokens to decode for {sum(self.todo.values())} measurements; at "
                       f"{rate:.0f} tok/s that is about {_duration(minutes)} (an upper estimate: paths that stop "
                       "early take less). Ctrl-C keeps what is measured; run it again to go on.", highlight=False)
        self.started = time.perf_counter()
        if self._bar is not None:
            self._bar.update(self._task, total=tokens)

    def advance(self, arm: Arm, tokens: int) -> None:
        self.done += tokens
        self.spent[arm.name].append(tokens)
        self.todo[arm.name] = max(0, self.todo[arm.name] - 1)
        elapsed = time.perf_counter() - self.started
        if elapsed > 5 and self.done:
            self.rate = self.done / elapsed
        self._show()

    def block_done(self, problems: int) -> None:
        """A block of problems is measured by every strategy: say the ETA it makes."""
        if self._bar is None and self.rate > 0 and self.expected() > 0:
            self.err.print(f"[dim]{problems} problems measured: about {self.eta()} left[/dim]", highlight=False)
            self._said = time.perf_counter()

    def drop(self, arm: Arm, problems: Sequence[Problem]) -> None:
        """``arm`` is no longer measured."""
        self.todo[arm.name] = 0
        self._show()

    def eta(self) -> str:
        return _duration(self.expected() / self.rate / 60) if self.rate > 0 else "?"

    def _show(self) -> None:
        total = self.done + self.expected()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, total=total, eta=self.eta())
        elif time.perf_counter() - self._said > LINE_EVERY_S:
            self._said = time.perf_counter()
            self.err.print(f"[dim]{self.done:,}/{total:,.0f} tokens · {self.rate:.0f} tok/s · about {self.eta()} "
                           "left[/dim]", highlight=False)

    def __enter__(self) -> Meter:
        if self.err.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("measuring"), BarColumn(),
                                 TextColumn("{task.completed:,.0f}/{task.total:,.0f} tokens · about {task.fields[eta]} left"),
                                 console=self.err, transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("tune", total=self.expected(), eta="?")
        self._said = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        if self.done:
            minutes = (time.perf_counter() - self.started) / 60
            self.err.print(f"[dim]decoded {self.done:,} tokens in {_duration(minutes)} "
                           f"({self.rate:.0f} tok/s)[/dim]", highlight=False)


def _duration(minutes: float) -> str:
    if minutes != minutes:  # NaN: no speed known
        return "an unknown time"
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
