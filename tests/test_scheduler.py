"""The one decode loop: runs admitted into one batch, ending and failing on their own.

Behind the scripted engine: the scheduler itself on toy programs, then the batch command
on it (failures isolated, multi-path levels side by side, a long prompt alone, notices).
"""

from __future__ import annotations

import json

import pytest
from test_batch import problems_file, run_batch

from thinkcli.engine import Sampling
from thinkcli.engine.fake import EOG, FakeBatch, FakeEngine
from thinkcli.errors import PathError, RemoteError, ThinkError
from thinkcli.events import Done, Notice, Result
from thinkcli.scheduler import STEP, Open, Scheduler, Task

GREEDY = Sampling(temperature=0.0)


def reader(name: str, n: int = 1, log: list | None = None):
    """A toy run: open ``n`` paths, read every token, say what it read."""
    opened = yield Open(name, n, GREEDY, tuple(range(n)))
    text: dict[int, str] = {seq: "" for seq in opened.seqs}
    live = set(opened.seqs)
    for _ in range(100):  # a path stopped under it would otherwise be waited for forever
        if not live:
            break
        for token in (yield STEP):
            if token.eog:
                live.discard(token.seq)
            else:
                text[token.seq] += token.text
        if log is not None:
            log.append((name, sorted(live)))
    yield Notice(f"{name} read {sorted(text.values())}")
    yield Done(Result(answer="|".join(text[s] for s in opened.seqs)))


def items(drive) -> dict:
    got: dict = {}
    for task, item in drive:
        got.setdefault(task.key, []).append(item)
    return got


def test_two_runs_decode_side_by_side_in_one_batch():
    engine = FakeEngine([["a", "b", EOG], ["x", EOG]])
    log: list = []
    got = items(Scheduler(engine, seqs=4).drive(
        [Task("one", reader("one", 1, log)), Task("two", reader("two", 1, log))], at_once=2))
    assert got["one"][-1].result.answer == "ab" and got["two"][-1].result.answer == "x"
    assert len(engine.batches) == 1  # the second run was admitted into the first's batch
    assert isinstance(got["one"][0], Notice)
    # both decoded in the same steps until the shorter ended
    assert ("one", [0]) in log and ("two", []) in log


def test_a_run_waits_for_free_sequences_and_then_reuses_them():
    engine = FakeEngine([["a", EOG]])
    got = items(Scheduler(engine, seqs=2).drive(
        [Task(i, reader(str(i), 2)) for i in range(3)], at_once=3))
    assert [got[i][-1].result.answer for i in range(3)] == ["a|a"] * 3
    assert len(engine.batches) == 1 and engine.batches[0].closed


def test_a_run_that_can_never_get_its_paths_fails_alone():
    engine = FakeEngine([["a", EOG]])
    got = items(Scheduler(engine, seqs=2).drive([Task("big", reader("big", 3)), Task("ok", reader("ok", 1))],
                                               at_once=1))
    assert isinstance(got["big"][-1], ThinkError) and "3 paths" in str(got["big"][-1])
    assert got["ok"][-1].result.answer == "a"


def test_a_run_that_gave_its_paths_back_does_not_take_them_from_the_next():
    # A gives its sequence back while it still has work to do; B takes it; A ends. The
    # sequence is B's now: A's end must not stop it.
    engine = FakeEngine([["a", EOG], ["b", "b", "b", "b", EOG]])
    scheduler = Scheduler(engine, seqs=1)

    def early_release():
        opened = yield Open("A", 1, GREEDY, (0,))
        while (token := (yield STEP)) is not None and not any(t.eog for t in token):
            pass
        scheduler.release(opened.seqs)
        for _ in range(2):  # still working, without paths, while B decodes
            yield STEP
        yield Done(Result(answer="A"))

    got = items(scheduler.drive([Task("A", early_release()), Task("B", reader("B"))], at_once=2))
    assert got["B"][-1].result.answer == "bbbb"


class FailingBatch(FakeBatch):
    """Sequence ``victim``'s request fails at the ``at``-th step (the others' tokens still come)."""

    victim, at = 1, 3

    def step(self):
        self.steps = getattr(self, "steps", 0) + 1
        tokens = super().step()
        if self.steps == self.at and self.victim in self.live:
            self.stop(self.victim)
            raise PathError({self.victim: RemoteError("the stream was cut mid-way")},
                            [t for t in tokens if t.seq != self.victim])
        return tokens


class FailingEngine(FakeEngine):
    def start(self, prompt, *, n, sampling, seeds):
        plain = super().start(prompt, n=n, sampling=sampling, seeds=seeds)
        self.batches[-1] = FailingBatch(plain.scripts, plain.n_ctx, plain.prompt_tokens, plain.prompt_eval_tokens,
                                        engine=self)
        return self.batches[-1]


def test_a_failed_path_ends_only_its_run():
    engine = FailingEngine([["a", "b", "c", "d", EOG]])
    got = items(Scheduler(engine, seqs=4).drive([Task(i, reader(str(i))) for i in range(3)], at_once=3))
    assert isinstance(got[1][-1], RemoteError)
    assert got[0][-1].result.answer == "abcd" and got[2][-1].result.answer == "abcd"


def test_ctrl_c_closes_every_run_and_the_batch():
    engine = FakeEngine([["a"] * 50 + [EOG]])
    closed = []

    def program(name):
        try:
            yield from reader(name)
        finally:
            closed.append(name)

    drive = Scheduler(engine, seqs=4).drive([Task(i, program(str(i))) for i in range(2)], at_once=2)
    next(drive)
    drive.close()  # what Ctrl-C does to the loop
    assert sorted(closed) == ["0", "1"] and engine.batches[0].closed


# -- batch on the scheduler ------------------------------------------------------------

THOUGHT = ["Let", " me", " see", "</think>", "The", " answer", " is", " 4.", EOG]


def test_one_failed_request_in_batch_parallel_keeps_every_other_record(tmp_path, monkeypatch):
    # Before the scheduler, a ThinkError from a step escaped the loop: 0 records were written.
    path = problems_file(tmp_path, [{"id": str(i), "question": f"{i}+{i}?"} for i in range(4)])
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(FailingBatch, "at", 5)
    code, _, err, _ = run_batch([str(path), "-e", "low", "--parallel", "4", "-o", str(out)], monkeypatch,
                                engine=FailingEngine([THOUGHT]))
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert code == 1 and sorted(records) == ["0", "1", "2", "3"]
    assert "cut mid-way" in records["1"]["error"]
    assert all(records[i]["answer"] == "The answer is 4." for i in ("0", "2", "3"))


class Widest(FakeEngine):
    """Remembers the most sequences its batch decoded at once."""

    widest = 0

    def start(self, prompt, *, n, sampling, seeds):
        batch = super().start(prompt, n=n, sampling=sampling, seeds=seeds)
        engine, real_step = self, batch.step

        def step():
            engine.widest = max(engine.widest, len(batch.live))
            return real_step()

        batch.step = step
        return batch


def test_multi_path_levels_fill_the_batch_with_several_problems(tmp_path, monkeypatch):
    # Before, a multi-path level took problems one at a time; now 2 problems' 3 paths share steps.
    path = problems_file(tmp_path, [{"id": str(i), "question": f"{i}+{i}?"} for i in range(4)])
    engine = Widest([THOUGHT])
    code, out, _, _ = run_batch([str(path), "-e", "low", "--samples", "3", "--parallel", "2"], monkeypatch,
                                engine=engine)
    assert code == 0 and len(out.splitlines()) == 4
    assert engine.widest == 6 and len(engine.batches) == 1


def test_a_prompt_too_long_for_its_share_runs_alone(tmp_path, monkeypatch):
    # With 2 at once each problem has half the context; the long one needs more, so it runs
    # by itself instead of being refused (before: any prompt past the share was an error).
    rows = [{"id": "a", "question": "1+1?"}, {"id": "long", "question": "word " * 900},
            {"id": "b", "question": "2+2?"}]
    path = problems_file(tmp_path, rows)
    code, out, err, engine = run_batch([str(path), "-e", "none", "--parallel", "2"], monkeypatch, n_ctx=2048,
                                       scripts=[["Four.", EOG]])
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert [r["id"] for r in records] == ["a", "long", "b"] and all("error" not in r for r in records)


def test_batch_says_the_session_notes_once_and_each_problems_own(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"id": "a", "question": "1+1?"}, {"id": "b", "question": "2+2?"}])
    code, _, err, _ = run_batch([str(path), "-e", "none", "--samples", "2", "-t", "0"], monkeypatch)
    assert code == 0
    assert err.count("temperature 0 makes all 2 paths the same") == 1
    assert err.count("has no chat template") == 1
