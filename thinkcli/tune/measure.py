"""Run the grid's arms through the scheduler, several problems at once, and keep every
measurement, so that Ctrl-C loses only what was running and a rerun resumes.

A measurement is one arm on one problem: every path's answer, tokens, confidence and
ends (and the verifier's P(true) where the arm checks answers). It is kept as one JSON
line in ``<data dir>/tune/<model key>.jsonl``, keyed by the model, the problem's text,
the arm with every setting that changes its paths, and the seed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from thinkcli.batch.problems import Problem
from thinkcli.config import EffortPreset, Settings
from thinkcli.errors import ContextOverflowError, ThinkError
from thinkcli.events import SampleResult
from thinkcli.scheduler import Program, Task
from thinkcli.session import Session
from thinkcli.turn.run import Plan, Run
from thinkcli.tune.grid import Arm

ANSWER_KEPT = 2000  # characters of a path's answer kept (enough to grade it again)
_KEPT = ("answer", "extracted", "thinking_tokens", "answer_tokens", "confidence", "think_end", "answer_end", "verify_p")


@dataclass
class Measured:
    """A measuring program's last event: the arm's paths on one problem, in path order."""

    paths: list[SampleResult]
    generated: int  # tokens decoded for it now (paths carried over from a smaller budget cost none)


def problem_key(problem: Problem) -> str:
    """A problem by its text (and system prompt), whatever its id in the file."""
    return hashlib.sha256(f"{problem.system or ''}\0{problem.question}".encode()).hexdigest()[:24]


def arm_key(arm: Arm, settings: Settings) -> str:
    """The arm, with every setting that changes what its paths say."""
    forcing = hashlib.sha256(f"{settings.wrap_up}\0{settings.continuations}".encode()).hexdigest()[:8]
    temperature = 0.0 if arm.greedy else settings.temperature
    return (f"{arm.name}/n{arm.paths}/v{arm.verify}/t{temperature}/p{settings.top_p}/k{settings.top_k}"
            f"/m{settings.max_tokens}/f{arm.fmt or settings.reasoning_format}/c{settings.vote_confidence}"
            f"/x{settings.ctx or 'auto'}/s{settings.system!r}/w{forcing}")


class Store:
    """The measurements of one model, one JSON line each (a torn last line is skipped).

    Args:
        path: the model's file in ``<data dir>/tune``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[str, dict] = {}
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("key"), str):
                self._records[record["key"]] = record

    def __len__(self) -> int:
        return len(self._records)

    def has(self, key: str) -> bool:
        return key in self._records

    def get(self, key: str) -> list[SampleResult] | None:
        """The paths measured under ``key``; an empty list for a run that failed; None if none."""
        record = self._records.get(key)
        if record is None:
            return None
        return [SampleResult(**{k: v for k, v in p.items() if k in _KEPT}) for p in record.get("paths") or []]

    def put(self, key: str, paths: list[SampleResult] | None, *, generated: int = 0, error: str | None = None) -> None:
        record: dict = {"key": key, "generated": generated}
        if error is not None:
            record["error"] = error
        else:
            record["paths"] = [{k: v for k, v in asdict(p).items() if k in _KEPT} | {"answer": p.answer[:ANSWER_KEPT]}
                               for p in paths or []]
        self._records[key] = record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            if f.tell() and not _ends_with_newline(self.path):
                f.write("\n")  # a line torn by a kill stays apart from this one
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def forget(self) -> None:
        self._records.clear()
        self.path.unlink(missing_ok=True)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


class Runner:
    """Measures arms on problems with one session, as ``batch`` solves them: several at once.

    Args:
        session: the loaded model.
        store: where measurements are kept.
        model_key: the model's profile key.
        seed: path i of every run samples with ``seed + i``.
        note: told what the session has to say (a budget cut to fit the context).
    """

    def __init__(self, session: Session, store: Store, model_key: str, seed: int,
                 note: Callable[[str], None] = lambda text: None) -> None:
        self.session = session
        self.store = store
        self.model_key = model_key
        self.seed = seed
        self.note = note

    def key(self, arm: Arm, problem: Problem) -> str:
        return f"{self.model_key}|{problem_key(problem)}|{arm_key(arm, self.session.settings)}|{self.seed}"

    def measured(self, arm: Arm, problem: Problem) -> list[SampleResult] | None:
        return self.store.get(self.key(arm, problem))

    def measure(self, arm: Arm, reused: Arm | None, items: list[tuple[int, Problem]],
                done: Callable[[int, int], None]) -> None:
        """Measure ``arm`` on the ``items`` not measured yet; ``done(index, tokens)`` after each.

        ``reused``: the arm of the next smaller budget, whose paths that stopped thinking on
        their own are this arm's too. Ctrl-C propagates; what finished is kept.
        """
        level = arm.preset(temperature=self.session.settings.temperature)
        k = self.session.questions_at_once(level)
        scheduler = self.session.scheduler()
        failed: list[tuple[int, str, ThinkError]] = []

        def tasks() -> Iterator[Task]:
            for index, problem in items:
                key = self.key(arm, problem)
                if self.store.has(key):
                    continue
                carried = self._carried(reused, problem, arm.paths)
                messages = self.session.messages(problem.question, system=problem.system)
                try:
                    plan, shares = self._plan(messages, level, k, greedy=arm.greedy)
                except ThinkError as exc:
                    failed.append((index, key, exc))
                    continue
                turn = self.session.turn(messages, plan, scheduler=scheduler)
                for text in turn.notices:
                    self.note(text)
                todo = [j for j in range(arm.paths) if j not in carried]
                yield Task((index, key), measuring(turn.run, todo, carried, arm.paths, arm.verify), shares=shares)

        def fail(index: int, key: str, error: ThinkError) -> None:
            self.store.put(key, None, error=str(error))
            done(index, 0)

        for task, item in scheduler.drive(tasks(), at_once=k):
            while failed:
                fail(*failed.pop(0))
            index, key = task.key
            if isinstance(item, Measured):
                self.store.put(key, item.paths, generated=item.generated)
                done(index, item.generated)
            elif isinstance(item, ThinkError):
                fail(index, key, item)
        while failed:
            fail(*failed.pop(0))

    def _carried(self, reused: Arm | None, problem: Problem, n: int) -> dict[int, SampleResult]:
        if reused is None:
            return {}
        paths = self.measured(reused, problem) or []
        return {j: p for j, p in enumerate(paths[:n]) if p.think_end == "stop" and p.answer_end == "stop"}

    def _plan(self, messages: list[dict], level: EffortPreset, k: int, *, greedy: bool) -> tuple[Plan, int]:
        """The plan of one of ``k`` problems at once (alone, taking every share, when its
        prompt needs more than its share of the context), with the tuning seed."""
        try:
            plan, shares = self.session.plan(messages, level, questions=k), 1
        except ContextOverflowError:
            if k == 1:
                raise
            plan, shares = self.session.plan(messages, level), k
        plan = replace(plan, seed=self.seed)
        if greedy:  # greedy whatever --temperature says
            plan = replace(plan, sampling=replace(plan.sampling, temperature=0.0))
        return plan, shares


def measuring(run: Run, todo: list[int], carried: dict[int, SampleResult], n: int, verify: int) -> Program:
    """Decode paths ``todo`` of ``run`` (path j with seed + j), add the ``carried`` ones, have
    the verifier check the first ``verify`` answers, and end with ``Measured``."""
    if todo:
        yield from run.explore(len(todo), seeds=tuple(run.plan.seed + j for j in todo))
    new = {j: sample.result() for j, sample in zip(todo, run.samples)}
    paths = [carried[j] if j in carried else new[j] for j in range(n)]
    for path in paths[:verify]:
        if path.extracted:
            path.verify_p = yield from run.verify(path.answer.strip())
    yield Measured(paths, run.stats.generated_tokens)

