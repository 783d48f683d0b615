"""``thinkcli batch``: solve a problem file at one or more effort levels, and compare them.

One engine serves the whole run; each problem is one collected turn (no renderer). With
several levels, a table and the test-time scaling curve follow the records.
"""

from __future__ import annotations

import difflib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from thinkcli.ask import decode_text, read_text
from thinkcli.batch.problems import Problem, guess_format, parse_problems
from thinkcli.batch.results import ResultWriter, done_keys, read_records
from thinkcli.batch.runner import Item, Outcome, Solver, run_batch
from thinkcli.batch.sweep import check_plot, curve, save_plot, summarize, table
from thinkcli.config import EffortPreset, Settings
from thinkcli.env import Environment
from thinkcli.errors import ExitStatus, ThinkError, UsageError
from thinkcli.events import Result
from thinkcli.history import Recorder, plan_dict
from thinkcli.render import collect
from thinkcli.session import Knobs, Opener, Session, preset_for, template_note
from thinkcli.strategies import paths_at_once
from thinkcli.store import RunRecord, stamp
from thinkcli.strategies.many import Job, solve_many
from thinkcli.strategies.run import Plan

__all__ = ["BatchOptions", "parse_levels", "run_batch_command"]


class BatchOptions:
    """What ``thinkcli batch`` was asked beyond the shared options.

    Args:
        source: the problem file, or ``-`` for standard input.
        fmt: ``jsonl``, ``text`` or None (from the extension).
        output: the results file; None = standard output (no resuming).
        overwrite: start the output file over instead of resuming it.
        limit: solve only the first N problems.
        show_reasoning: put each answer's reasoning in its record.
        json: print the summary as JSON.
        plot: save the scaling curve as a picture.
        parallel: questions decoded side by side (single-path levels); None = by level and context.
    """

    def __init__(self, source: str, *, fmt: str | None = None, output: Path | None = None, overwrite: bool = False,
                 limit: int | None = None, show_reasoning: bool = False, json: bool = False,
                 plot: Path | None = None, parallel: int | None = None) -> None:
        self.source, self.fmt, self.output, self.overwrite = source, fmt, output, overwrite
        self.limit, self.show_reasoning, self.json, self.plot = limit, show_reasoning, json, plot
        self.parallel = parallel


def parse_levels(text: str | None, settings: Settings) -> list[str]:
    """``--effort a,b,c`` as a list of known levels (the configured one when not given)."""
    names = [n.strip() for n in (text or settings.effort).split(",") if n.strip()]
    if not names:
        raise UsageError("--effort: name at least one level")
    for name in names:
        if name not in settings.efforts:
            close = difflib.get_close_matches(name, list(settings.efforts), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"unknown effort {name!r}{hint}; choose from: {', '.join(settings.efforts)}")
    return list(dict.fromkeys(names))


def read_problems(env: Environment, opts: BatchOptions) -> tuple[list[Problem], list[str]]:
    """The problems of the file (or stdin) and the lines that were skipped."""
    text = decode_text(env.stdin.read(), "standard input") if opts.source == "-" else read_text(Path(opts.source))
    problems, skipped = parse_problems(text, guess_format(opts.source, opts.fmt))
    if opts.limit is not None:
        problems = problems[: opts.limit]
    return problems, skipped


PARALLEL_MOST = 4  # questions at once by default: about 1.4x the tokens per second of one on a CPU
PARALLEL_ROOM = 2048  # context each parallel question should have, at least


def default_parallel(level: EffortPreset, n_ctx: int) -> int:
    """Questions decoded side by side when ``--parallel`` is not given: one for multi-path
    levels (their paths already fill the batch), else as many as the context has room for."""
    if paths_at_once(level.selection, level.samples) > 1:
        return 1
    return max(1, min(PARALLEL_MOST, n_ctx // PARALLEL_ROOM))


def make_solver(
    session: Session, settings: Settings, knobs: Knobs, parallel: int | None, plans: dict[int, Plan] | None = None
) -> Solver:
    """Solve items as turns of ``session``: several single-path ones at once, the rest in turn.

    ``plans`` gets each problem's plan, by ``id(problem)``, as its turn starts (for the run log).
    """
    plans = {} if plans is None else plans

    def level_of(name: str) -> EffortPreset:
        return preset_for(replace(settings, effort=name), knobs)

    def one_by_one(group: list[tuple[int, Problem]], level: EffortPreset) -> Iterator[Outcome]:
        for index, problem in group:
            messages = session.messages(problem.question, system=problem.system)
            try:
                plans[id(problem)] = plan = session.plan(messages, level)
                yield index, collect(session.turn(messages, plan))
            except ThinkError as exc:
                yield index, exc

    def side_by_side(group: list[tuple[int, Problem]], level: EffortPreset, k: int) -> Iterator[Outcome]:
        failed: list[Outcome] = []

        def jobs() -> Iterator[Job]:
            for index, problem in group:
                messages = session.messages(problem.question, system=problem.system)
                try:
                    plans[id(problem)] = plan = session.plan(messages, level, questions=k)
                except ThinkError as exc:
                    failed.append((index, exc))
                    continue
                yield Job(index, session.turn(messages, plan).run)

        for outcome in solve_many(session.engine, jobs(), slots=k):
            yield from _drain(failed)
            yield outcome
        yield from _drain(failed)

    def solve(items: list[Item]) -> Iterator[Outcome]:
        for name, group in itertools.groupby(enumerate(items), key=lambda pair: pair[1][1]):
            group = [(index, problem) for index, (problem, _) in group]
            try:
                level = level_of(name)
            except ThinkError as exc:  # a record's own effort that does not exist
                yield from ((index, exc) for index, _ in group)
                continue
            k = parallel or default_parallel(level, session.engine.info.n_ctx)
            if k > 1 and paths_at_once(level.selection, level.samples) == 1:
                yield from side_by_side(group, level, k)
            else:
                yield from one_by_one(group, level)

    return solve


def _drain(failed: list[Outcome]) -> Iterator[Outcome]:
    while failed:
        yield failed.pop(0)


def run_batch_command(
    env: Environment, settings: Settings, knobs: Knobs, levels: list[str], opts: BatchOptions, opener: Opener
) -> ExitStatus:
    """Solve the file; returns 0 when every problem has a result, 1 when some failed, 130 on Ctrl-C."""
    err = env.err_console()
    if opts.plot:
        check_plot(opts.plot)
    problems, skipped = read_problems(env, opts)
    for line in skipped:
        err.print(f"thinkcli: {opts.source}: {line} (skipped)", markup=False, highlight=False, soft_wrap=True)
    if not problems:
        raise UsageError(f"{opts.source} holds no problems")
    skip = set() if opts.output is None or opts.overwrite else done_keys(opts.output)
    writer = ResultWriter.open(opts.output, overwrite=opts.overwrite) if opts.output else ResultWriter(env.stdout, sync=False)
    most = max(paths_at_once(p.selection, p.samples) for p in (preset_for(replace(settings, effort=n), knobs) for n in levels))
    interrupted = False
    recorder = Recorder(env, enabled=settings.log)
    plans: dict[int, Plan] = {}

    def keep(problem: Problem, result: Result) -> None:
        system = settings.system if problem.system is None else problem.system
        recorder.record(RunRecord("batch", problem.question, result, stamp(time.time() - result.stats.wall_s),
                                  system=system, plan=plan_dict(plans.get(id(problem)))))

    try:
        with Session.open(settings, knobs, opener, err, n_seq_max=max(most, opts.parallel or PARALLEL_MOST)) as session:
            if (note := template_note(session.engine.info)) is not None:  # turns' notices are not shown here
                err.print(f"note: {note}", style="dim", markup=False, highlight=False, soft_wrap=True)
            solver = make_solver(session, settings, knobs, opts.parallel, plans)
            tally = run_batch(problems, levels, solver, writer, skip=skip, err=err, show_reasoning=opts.show_reasoning,
                              keep=keep)
    except KeyboardInterrupt:
        interrupted = True
        tally = None
    finally:
        writer.close()
        recorder.close()
    records = read_records(opts.output) if opts.output else (tally.records if tally else [])
    if not interrupted and (len(levels) > 1 or opts.json or opts.plot):
        _summary(env, opts, records, levels)
    if interrupted:
        err.print("thinkcli: interrupted; finished results are kept" + (f" in {opts.output}" if opts.output else ""),
                  markup=False, highlight=False)
        return ExitStatus.INTERRUPTED
    failed = (tally.failed if tally else 0) + len(skipped)
    if failed:
        err.print(f"thinkcli: {failed} problem(s) failed or were skipped", markup=False, highlight=False)
        return ExitStatus.ERROR
    return ExitStatus.OK


def _summary(env: Environment, opts: BatchOptions, records: list[dict], levels: list[str]) -> None:
    rows = summarize(records, levels)
    # Records own stdout unless they went to a file.
    console = env.out_console() if opts.output else env.err_console()
    if opts.json:
        text = json.dumps([r.to_dict() for r in rows], indent=2) + "\n"
        (env.stdout if opts.output else env.stderr).write(text)
    else:
        console.print(table(rows))
        console.print()
        console.print(curve(rows))
    if opts.plot:
        save_plot(rows, opts.plot)
        env.err_console().print(f"[dim]saved {opts.plot}[/dim]", highlight=False)
