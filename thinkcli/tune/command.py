"""``thinkcli tune``: measure the grid on a graded problem file, choose the levels, save them.

The problems are measured in blocks of ``BLOCK``; after each block a strategy clearly
beaten by a cheaper one stops being measured (``frontier.race``). The levels are chosen on
all problems and written to the model's profile; the table beside them says how each
level did on problems it was not chosen on (cross-validation) and whether it beats
``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from types import MappingProxyType

from thinkcli.ask import read_text
from thinkcli.batch.problems import Problem, guess_format, parse_problems
from thinkcli.config import EffortPreset, Settings, data_dir
from thinkcli.env import Environment
from thinkcli.errors import ExitStatus, UsageError
from thinkcli.planner import PARALLEL_MOST
from thinkcli.session import Knobs, Opener, Session
from thinkcli.tune import report
from thinkcli.tune.frontier import choose, cross_validate, race
from thinkcli.tune.grid import Arm, Point, default_grid, points
from thinkcli.tune.levels import ModelLevels
from thinkcli.tune.measure import Runner, Store
from thinkcli.tune.profile import Profile, tuned_origin
from thinkcli.tune.sets import problem_file
from thinkcli.tune.progress import Meter, calibrate

BLOCK = 8  # problems measured by every strategy before the next block starts
DEFAULT_SEED = 7  # a fixed seed, so that a rerun finds what was measured


@dataclass(frozen=True)
class TuneOptions:
    """What ``thinkcli tune`` was asked beyond the shared options.

    Args:
        source: the problem file, or the name of a set thinkcli ships (``mixed``...).
        limit: only the first N problems.
        folds: cross-validation folds.
        budgets: thinking budgets to measure.
        direct_paths: direct answers per problem.
        think_paths: thinking paths per problem and budget.
        plot: save the frontier as a picture here.
        json: print the result as JSON.
        save: write the profile.
        fresh: measure again, forgetting what was measured.
    """

    source: str = "mixed"
    limit: int | None = None
    folds: int = 5
    budgets: tuple[int, ...] = (128, 512, 2048)
    direct_paths: int = 16
    think_paths: int = 4
    plot: Path | None = None
    json: bool = False
    save: bool = True
    fresh: bool = False


def read_graded(source: str, limit: int | None, err) -> tuple[list[Problem], Path]:
    """The problems of the file that have an expected answer (the others cannot be graded)."""
    path = problem_file(source)
    problems, skipped = parse_problems(read_text(path), guess_format(str(path), None))
    for line in skipped:
        err.print(f"thinkcli: {path}: {line} (skipped)", markup=False, highlight=False, soft_wrap=True)
    graded = [p for p in problems if p.answer is not None]
    if len(graded) < len(problems):
        err.print(f"[dim]{len(problems) - len(graded)} problem(s) without an answer left out: tuning needs "
                  "graded problems[/dim]", highlight=False)
    graded = graded[:limit] if limit else graded
    if len(graded) < 4:
        raise UsageError(f"{path} holds {len(graded)} graded problem(s); tuning needs at least 4 (40 or more to tell "
                         "levels apart)")
    return graded, path


def run_tune(env: Environment, settings: Settings, knobs: Knobs, opts: TuneOptions, opener: Opener) -> ExitStatus:
    """Measure, choose, report and save; 130 after Ctrl-C (what was measured is kept)."""
    err = env.err_console()
    if opts.plot:
        from thinkcli.batch.sweep import check_plot

        check_plot(opts.plot)
    problems, path = read_graded(opts.source, opts.limit, err)
    settings = replace(settings, seed=DEFAULT_SEED if settings.seed is None else settings.seed)
    arms = default_grid(budgets=opts.budgets, direct_paths=opts.direct_paths, think_paths=opts.think_paths)
    model_levels = ModelLevels(env.vars)
    with Session.open(settings, knobs, opener, err, levels=[a.preset() for a in arms], questions=PARALLEL_MOST) as session:
        info = session.engine.info
        key = model_levels.key(settings, info)
        store = Store(data_dir(env.vars) / "tune" / f"{key}.jsonl")
        if opts.fresh:
            store.forget()
        runner = Runner(session, store, key, settings.seed, note=lambda text: err.print(
            f"note: {text}", style="dim", markup=False, highlight=False, soft_wrap=True))
        err.print(f"[bold]tuning {info.name}[/bold] on {path.name} ({len(problems)} problems), seed {settings.seed}",
                  highlight=False)
        err.print(f"[dim]{report.grid_line(arms)}[/dim]", highlight=False)
        try:
            dropped = _measure(runner, arms, problems, err)
        except KeyboardInterrupt:
            err.print(f"thinkcli: interrupted; {len(store)} measurements are kept in {store.path}: run the same "
                      "command again to go on from there", markup=False, highlight=False)
            return ExitStatus.INTERRUPTED
    every = list(range(len(problems)))
    candidates = _points(runner, arms, problems, dropped)
    levels = choose(candidates, every)
    held_out = cross_validate(candidates, every, opts.folds)
    result = report.Result(info.name, path, len(problems), candidates, levels, held_out, dropped, opts.folds)
    profile = None
    if opts.save:
        profile = _profile(key, info.name, path, result)
        model_levels.profiles.save(profile)
    report.show(env, result, profile_path=model_levels.profiles.path(key) if profile else None, json_out=opts.json)
    if opts.plot:
        report.save_plot(result, opts.plot)
        err.print(f"[dim]saved {opts.plot}[/dim]", highlight=False)
    return ExitStatus.OK


def _measure(runner: Runner, arms: list[Arm], problems: list[Problem], err) -> dict[str, str]:
    """Every active arm on every block in turn; returns the arms dropped and why."""
    by_name = {arm.name: arm for arm in arms}
    dropped: dict[str, str] = {}
    meter = Meter(err, arms, len(problems), runner)
    blocks = [list(range(i, min(i + BLOCK, len(problems)))) for i in range(0, len(problems), BLOCK)]
    left = meter.left(problems, dropped)
    with meter:
        if left:
            rate, notices = calibrate(runner.session, problems[0])
            for text in notices:
                runner.note(text)
            meter.announce(rate)
        for b, block in enumerate(blocks):
            for arm in arms:
                if arm.name in dropped:
                    continue
                items = [(i, problems[i]) for i in block]
                reused = by_name.get(arm.reuse) if arm.reuse else None
                runner.measure(arm, reused, items, done=lambda i, tokens, arm=arm: meter.advance(arm, tokens))
            seen = [i for block in blocks[: b + 1] for i in block]
            active = {arm.name: _points(runner, [arm], problems, {}) for arm in arms if arm.name not in dropped}
            for name, why in race(active, seen).items():
                dropped[name] = why
                meter.drop(by_name[name], problems[seen[-1] + 1:])
                err.print(f"[dim]stopped measuring {name}: {why}[/dim]", highlight=False)
            meter.block_done(len(seen))
    return dropped


def _points(runner: Runner, arms: list[Arm], problems: list[Problem], dropped: dict[str, str]) -> list[Point]:
    settings = runner.session.settings
    expected = [p.answer or "" for p in problems]
    out: list[Point] = []
    for arm in arms:
        if arm.name in dropped:
            continue
        measured = [runner.measured(arm, p) for p in problems]
        out += points(arm, measured, expected, keep=settings.vote_keep, temperature=settings.temperature)
    return out


def _profile(key: str, model: str, path: Path, result: report.Result) -> Profile:
    day = date.today().isoformat()
    origin = tuned_origin(result.problems, day)
    levels: dict[str, EffortPreset] = {
        name: replace(point.preset, name=name, origin=origin) for name, point in result.levels.items()
    }
    return Profile(key, model, day, result.problems, path.name, MappingProxyType(levels), result.summary())

