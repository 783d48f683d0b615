"""One decode loop for every path of every question: runs share one engine batch.

A run (its strategy, a generator) asks for paths with ``Open`` and for tokens with
``STEP``; between two requests it yields its own events. ``Scheduler.drive`` admits
runs, opens their paths on free sequences of one batch, and on each step decodes one
token of every live path of every run, handing each run its own. Each run ends on its
own, and an error ends only the run it belongs to. ``ask`` and a chat turn are one
run; ``batch`` is many.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from thinkcli.engine import Batch, Engine, Sampling, Token
from thinkcli.errors import PathError, ThinkError
from thinkcli.events import Event


@dataclass(frozen=True, slots=True)
class Open:
    """A run asks for ``n`` paths on ``prompt``; it is resumed with an ``Opened``."""

    prompt: str
    n: int
    sampling: Sampling
    seeds: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Opened:
    """The sequences a run's new paths decode on, and what their prompt cost."""

    seqs: tuple[int, ...]
    prompt_tokens: int
    evaluated: int  # prompt tokens evaluated (once for all the paths)
    cached: int  # prompt tokens a cache held


class _Step:
    def __repr__(self) -> str:
        return "STEP"


STEP = _Step()  # a run waits for the next decode step; it is resumed with its tokens
Request = Open | _Step
Program = Generator[Event | Request, Any, None]  # a run's strategy, as the scheduler drives it


@dataclass(eq=False)
class Task:
    """One run for the scheduler: its program, and the shares of the batch it was planned for.

    Args:
        key: handed back with each of its events.
        program: the run's strategy (events, ``Open`` and ``STEP``).
        shares: how many of ``Scheduler.drive``'s ``at_once`` places it takes (a question
            whose prompt needed the whole context takes them all).
    """

    key: object
    program: Program
    shares: int = 1
    waiting: Request | None = field(default=None, init=False)
    seqs: set[int] = field(default_factory=set, init=False)


class Scheduler:
    """Admits runs into one batch of ``engine`` and decodes them together.

    Args:
        engine: the loaded model.
        seqs: sequences the batch may hold at once (paths of all runs together).
        keep_cache: leave the paths' cache in the engine when the batch closes (a chat
            continues the chosen path); else a finished run's sequences are freed at once.
    """

    def __init__(self, engine: Engine, *, seqs: int, keep_cache: bool = True) -> None:
        self.engine = engine
        self.batch: Batch | None = None
        self._free = list(range(max(1, seqs)))
        self._owner: dict[int, Task] = {}  # which run each sequence in use belongs to
        self._keep_cache = keep_cache

    # -- what a run calls directly ------------------------------------------------------

    def release(self, seqs: Iterable[int]) -> tuple[int, int] | None:
        """A run is done with ``seqs``: stop what still decodes and free them for others.

        Returns:
            What the server said those paths evaluated and took from its cache, where it says.
        """
        seqs = [seq for seq in seqs if seq in self._owner]  # a sequence is given back once
        for seq in seqs:
            self._owner.pop(seq).seqs.discard(seq)
        reported = None
        if self.batch is not None:
            for seq in seqs:
                self.batch.stop(seq)
            reported = self.batch.usage(seqs)
            if not self._keep_cache:
                for seq in seqs:
                    self.batch.free(seq)
        self._free = sorted(set(self._free) | set(seqs))
        return reported

    # -- the loop -----------------------------------------------------------------------

    def drive(self, tasks: Iterable[Task], *, at_once: int = 1) -> Iterator[tuple[Task, Event | ThinkError]]:
        """Run ``tasks``, up to ``at_once`` shares of them together, yielding each one's events.

        Tasks start in order (a task that takes every share waits for the others to end).
        A task's last item is its ``Done`` event, or the ``ThinkError`` that ended it.
        Ctrl-C closes every running task (each keeps what it had) and propagates.
        """
        queue = iter(tasks)
        active: list[Task] = []
        upcoming = next(queue, None)
        try:
            while True:
                while upcoming is not None and (not active or sum(t.shares for t in active) + upcoming.shares <= at_once):
                    task, upcoming = upcoming, next(queue, None)
                    active.append(task)
                    yield from self._advance(task, None, active)
                if not active:
                    if upcoming is None:
                        return
                    continue
                opened = yield from self._open_waiting(active)
                stepping = [t for t in active if t.waiting is STEP]
                if stepping:
                    yield from self._step(stepping, active)
                elif active and not opened:  # every run waits for paths no release will free
                    task = active[0]
                    yield from self._fail(task, ThinkError(
                        f"{task.waiting.n} paths at once need more sequences than the batch holds "
                        f"({len(self._free)} free)"), active)
        finally:
            for task in active:
                task.program.close()
            if self.batch is not None:
                self.batch.close()
                self.batch = None

    def solo(self, program: Program) -> Iterator[Event]:
        """One run's events, driven alone (``ask``, a chat turn); its errors propagate."""
        task = Task("solo", program)
        for _, item in self.drive([task]):
            if isinstance(item, BaseException):
                raise item
            yield item

    # -- one run's turn -----------------------------------------------------------------

    def _advance(self, task: Task, reply: object, active: list[Task]) -> Iterator[tuple[Task, Event | ThinkError]]:
        """Resume ``task`` with ``reply`` and pass its events on until it waits again or ends."""
        try:
            item = task.program.send(reply)
            while not isinstance(item, (Open, _Step)):
                yield task, item
                item = task.program.send(None)
        except StopIteration:
            self._done(task, active)
            return
        except ThinkError as exc:
            self._done(task, active)
            yield task, exc
            return
        task.waiting = item

    def _done(self, task: Task, active: list[Task]) -> None:
        active.remove(task)
        if task.seqs:  # a run that ended without giving its paths back
            self.release(list(task.seqs))

    def _fail(self, task: Task, error: ThinkError, active: list[Task]) -> Iterator[tuple[Task, ThinkError]]:
        """End ``task`` with ``error``: its program is thrown the error, so it cleans up."""
        try:
            task.program.throw(error)
        except (StopIteration, ThinkError):
            pass
        else:  # it went on: it may not
            task.program.close()
        if task in active:
            self._done(task, active)
        yield task, error

    def _open_waiting(self, active: list[Task]) -> Generator[tuple[Task, Event | ThinkError], None, bool]:
        """Open paths for the runs that ask, first come first served, while sequences are free.

        Returns:
            Whether any run got its paths.
        """
        opened = False
        while True:
            task = next((t for t in active if isinstance(t.waiting, Open)), None)
            if task is None or task.waiting.n > len(self._free):
                return opened  # the later ones wait too
            request = task.waiting
            seqs = tuple(self._free[: request.n])
            try:
                reply = self._admit(seqs, request)
            except ThinkError as exc:
                yield from self._fail(task, exc, active)
                continue
            del self._free[: request.n]
            task.seqs.update(seqs)
            self._owner.update(dict.fromkeys(seqs, task))
            task.waiting = None
            opened = True
            yield from self._advance(task, reply, active)

    def _admit(self, seqs: tuple[int, ...], request: Open) -> Opened:
        if self.batch is None:
            if seqs != tuple(range(request.n)):
                raise AssertionError("a new batch starts on sequences 0..n-1")
            self.batch = self.engine.start(request.prompt, n=request.n, sampling=request.sampling,
                                           seeds=request.seeds)
            batch = self.batch
            return Opened(seqs, batch.prompt_tokens, batch.prompt_eval_tokens, batch.cached_tokens)
        evaluated, total = self.batch.admit(seqs, request.prompt, sampling=request.sampling, seeds=request.seeds)
        return Opened(seqs, total, evaluated, total - evaluated)

    def _step(self, stepping: list[Task], active: list[Task]) -> Iterator[tuple[Task, Event | ThinkError]]:
        """One decode step: one token of every live path; each stepping task gets its own."""
        failed: dict[int, ThinkError] = {}
        try:
            tokens = self.batch.step() if self.batch is not None else []
        except PathError as exc:  # some paths failed (a server's request): only their runs end
            tokens, failed = exc.tokens, exc.failures
        mine: dict[int, list[Token]] = {}
        owner = dict(self._owner)
        for token in tokens:
            task = owner.get(token.seq)
            if task is not None:
                mine.setdefault(id(task), []).append(token)
        for seq, error in failed.items():
            task = owner.get(seq)
            if task is not None and task in active:
                yield from self._fail(task, error, active)
        for task in stepping:
            if task in active and task.waiting is STEP:
                task.waiting = None
                yield from self._advance(task, mine.get(id(task), []), active)
