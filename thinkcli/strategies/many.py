"""Several questions at once, one path each, in one llama.cpp batch (continuous batching).

``solve_many`` keeps up to ``slots`` runs decoding together: each step decodes one
token of every live path in a single ``llama_decode``, and the moment a path ends its
slot takes the next question, whose prompt is evaluated within the same steps.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from thinkcli.engine import Batch, Engine
from thinkcli.errors import ThinkError
from thinkcli.events import Result
from thinkcli.strategies.run import Run
from thinkcli.strategies.sample import Sample


@dataclass(slots=True)
class Job:
    """One question to answer: ``run`` holds its single-path plan; ``key`` comes back with it."""

    key: object
    run: Run


def solve_many(engine: Engine, jobs: Iterable[Job], *, slots: int) -> Iterator[tuple[object, Result | ThinkError]]:
    """Answer ``jobs`` with up to ``slots`` of them decoding at once.

    Yields:
        ``(key, result)`` as each job ends (not in input order), or ``(key, error)`` for
        a job that could not start (its prompt does not fit the context).
    """
    queue = iter(jobs)
    active: dict[int, tuple[Job, Sample]] = {}
    batch: Batch | None = None
    try:
        for seq in range(slots):
            batch, failed = _fill(engine, batch, seq, queue, active)
            yield from failed
        while active:
            tokens = batch.step()
            for token in tokens:
                job, sample = active[token.seq]
                job.run._count(1)
                sample.feed(token, batch)
            for seq in [s for s, (_, sample) in active.items() if sample.done]:
                job, _ = active.pop(seq)
                yield job.key, job.run.result(0)
                batch, failed = _fill(engine, batch, seq, queue, active)
                yield from failed
    finally:
        for _, sample in active.values():
            sample.interrupt()
        if batch is not None:
            batch.close()


def _fill(engine: Engine, batch: Batch | None, seq: int, queue: Iterator[Job], active: dict):
    """Start the next job that fits on ``seq``; returns the batch and the jobs that failed."""
    failed = []
    for job in queue:
        run = job.run
        prompt, starts = run.prompt(run.messages, thinking=run.plan.thinking)
        run.started = time.perf_counter()
        try:
            if batch is None:
                batch = engine.start(prompt, n=1, sampling=run.plan.sampling, seeds=[run.plan.seed])
                evaluated, total = batch.prompt_eval_tokens, batch.prompt_tokens
            else:
                evaluated = batch.admit(seq, prompt, sampling=run.plan.sampling, seed=run.plan.seed)
                total = engine.count_tokens(prompt)
        except ThinkError as exc:
            failed.append((job.key, exc))
            continue
        run.stats.prompt_tokens, run.stats.prompt_eval_tokens = total, evaluated
        run.stats.cached_tokens = total - evaluated
        sample = run.new_sample(seq, starts)
        run.samples.append(sample)
        active[seq] = (job, sample)
        sample.begin(batch)
        break
    return batch, failed
