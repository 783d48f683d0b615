"""``thinkcli batch``: solve a problem file at one or more effort levels, and compare them.

One engine serves the whole run; each problem is one collected turn (no renderer). With
several levels, a table and the test-time scaling curve follow the records.
"""

from __future__ import annotations

import difflib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from thinkcli.ask import decode_text, read_text
from thinkcli.batch.problems import Problem, guess_format, parse_problems
from thinkcli.batch.report import check_report, write_report
from thinkcli.batch.results import ResultWriter, done_keys, read_records
from thinkcli.batch.runner import Item, Outcome, Solver, run_batch
from thinkcli.batch.sweep import check_plot, curve, save_plot, summarize, table
from thinkcli.config import EffortPreset, Settings
from thinkcli.env import Environment
from thinkcli.errors import ContextOverflowError, ExitStatus, ThinkError, UsageError
from thinkcli.events import Done, Notice, Result
from thinkcli.runlog.recorder import Recorder, plan_dict
from thinkcli.planner import PARALLEL_MOST
from thinkcli.scheduler import Task
from thinkcli.session import Knobs, Opener, Session, preset_for
from thinkcli.runlog.record import RunRecord, stamp
from thinkcli.runlog.store import store_path
from thinkcli.turn.run import Plan
from thinkcli.tune.levels import ModelLevels
from thinkcli.tune.sets import problem_file

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
        report: write the comparison and every result as an HTML page here.
    """

    def __init__(self, source: str, *, fmt: str | None = None, output: Path | None = None, overwrite: bool = False,
                 limit: int | None = None, show_reasoning: bool = False, json: bool = False,
                 plot: Path | None = None, parallel: int | None = None, report: Path | None = None) -> None:
        self.source, self.fmt, self.output, self.overwrite = source, fmt, output, overwrite
        self.limit, self.show_reasoning, self.json, self.plot = limit, show_reasoning, json, plot
        self.parallel, self.report = parallel, report


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
    source = opts.source if opts.source == "-" else str(problem_file(opts.source))  # a shipped set by its name
    text = decode_text(env.stdin.read(), "standard input") if source == "-" else read_text(Path(source))
    problems, skipped = parse_problems(text, guess_format(source, opts.fmt))
    if opts.limit is not None:
        problems = problems[: opts.limit]
    return problems, skipped


def make_solver(
    session: Session, settings: Settings, knobs: Knobs, parallel: int | None, plans: dict[int, Plan] | None = None,
    note: Callable[[Problem | None, str], None] = lambda problem, text: None,
) -> Solver:
    """Solve items as turns of ``session``, several at once in one batch (the scheduler's).

    Each level's problems run together, as many at once as ``--parallel`` says or, without
    it, as many as keep every path's full budget (``Session.questions_at_once``): single-path
    and multi-path levels alike fill the batch with the paths of several problems. A problem
    whose prompt needs more than its share of the context runs alone. ``plans`` gets each
    problem's plan, by ``id(problem)``, as its turn starts (for the run log); ``note`` each
    notice, with the problem whose run gave it (None: the session's, such as the model's
    prompt format or a cut budget).
    """
    plans = {} if plans is None else plans

    def level_of(name: str) -> EffortPreset:
        return preset_for(replace(settings, effort=name), knobs)

    def solve(items: list[Item]) -> Iterator[Outcome]:
        for name, group in itertools.groupby(enumerate(items), key=lambda pair: pair[1][1]):
            group = [(index, problem) for index, (problem, _) in group]
            try:
                level = level_of(name)
            except ThinkError as exc:  # a record's own effort that does not exist
                yield from ((index, exc) for index, _ in group)
                continue
            yield from _solve_level(session, level, group, session.questions_at_once(level, parallel), plans, note)

    return solve


def _solve_level(session: Session, level: EffortPreset, group: list[tuple[int, Problem]], k: int,
                 plans: dict[int, Plan], note: Callable[[Problem | None, str], None]) -> Iterator[Outcome]:
    """``group``'s problems at ``level``, ``k`` at once in one scheduler's batch."""
    failed: list[Outcome] = []
    scheduler = session.scheduler()
    problems: dict[int, Problem] = {}

    def tasks() -> Iterator[Task]:
        for index, problem in group:
            messages = session.messages(problem.question, system=problem.system)
            try:
                plan, shares = _plan(session, messages, level, k)
            except ThinkError as exc:
                failed.append((index, exc))
                continue
            plans[id(problem)] = plan
            problems[index] = problem
            turn = session.turn(messages, plan, scheduler=scheduler)
            for text in turn.notices:
                note(None, text)
            yield Task(index, turn.program(notices=False), shares=shares)

    for task, item in scheduler.drive(tasks(), at_once=k):
        yield from _drain(failed)
        if isinstance(item, ThinkError):
            yield task.key, item
        elif isinstance(item, Done):
            yield task.key, item.result
        elif isinstance(item, Notice):
            note(problems[task.key], item.text)
    yield from _drain(failed)


def _plan(session: Session, messages: list[dict], level: EffortPreset, k: int) -> tuple[Plan, int]:
    """A problem's plan as one of ``k`` at once; one whose prompt needs more than its share
    of the context is planned alone and takes every share (it runs by itself)."""
    try:
        return session.plan(messages, level, questions=k), 1
    except ContextOverflowError:
        if k == 1:
            raise
        return session.plan(messages, level), k


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
    if opts.report:
        check_report(opts.report)
    problems, skipped = read_problems(env, opts)
    for line in skipped:
        err.print(f"thinkcli: {opts.source}: {line} (skipped)", markup=False, highlight=False, soft_wrap=True)
    if not problems:
        raise UsageError(f"{opts.source} holds no problems")
    skip = set() if opts.output is None or opts.overwrite else done_keys(opts.output)
    model_levels = ModelLevels(env.vars)
    settings = model_levels.before_load(settings)
    wanted = [preset_for(replace(settings, effort=n), knobs) for n in levels]
    writer = ResultWriter.open(opts.output, overwrite=opts.overwrite) if opts.output else ResultWriter(env.stdout, sync=False)
    interrupted = False
    recorder = Recorder(env, enabled=settings.log)
    plans: dict[int, Plan] = {}
    run_ids: dict[tuple[str, str], int] = {}  # (problem id, effort) -> its run in the log, for --report

    def keep(problem: Problem, result: Result) -> None:
        system = settings.system if problem.system is None else problem.system
        run_ids[(str(problem.id), result.effort)] = recorder.record(RunRecord("batch", problem.question, result, stamp(time.time() - result.stats.wall_s),
                                  system=system, plan=plan_dict(plans.get(id(problem)))))

    try:
        with Session.open(settings, knobs, opener, err, levels=wanted, questions=opts.parallel or PARALLEL_MOST,
                          model_levels=model_levels) as session:
            solver = make_solver(session, session.settings, knobs, opts.parallel, plans, note=lambda problem, text: err.print(
                f"note: {f'problem {problem.id}: ' if problem else ''}{text}", style="dim", markup=False,
                highlight=False, soft_wrap=True))
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
    if opts.report and records:
        _report(env, opts, records, levels, {k: v for k, v in run_ids.items() if v is not None}, settings.model)
    if interrupted:
        err.print("thinkcli: interrupted; finished results are kept" + (f" in {opts.output}" if opts.output else ""),
                  markup=False, highlight=False)
        return ExitStatus.INTERRUPTED
    failed = (tally.failed if tally else 0) + len(skipped)
    if failed:
        err.print(f"thinkcli: {failed} problem(s) failed or were skipped", markup=False, highlight=False)
        return ExitStatus.ERROR
    return ExitStatus.OK


def _report(env: Environment, opts: BatchOptions, records: list[dict], levels: list[str],
            run_ids: dict[tuple[str, str], int], model: str | None) -> None:
    size = write_report(opts.report, records, levels, run_ids, store_file=store_path(env.vars), source=opts.source,
                        model=str(model or ""), warn=lambda line: env.err_console().print(f"thinkcli: warning: {line}",
                                                                                   markup=False, highlight=False))
    env.err_console().print(f"[dim]wrote {opts.report} ({size / 1000:,.0f} kB)[/dim]", highlight=False)


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
