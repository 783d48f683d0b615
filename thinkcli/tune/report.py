"""What ``thinkcli tune`` says: the frontier, the levels chosen on it, and how they hold.

``Result`` gathers a tuning run; ``show`` prints its frontier plot and level table (or
JSON); ``summary`` is what the profile keeps of it, for ``tune --show``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rich.table import Table

from thinkcli.batch.sweep import LevelSummary, curve, save_plot as save_curve
from thinkcli.env import Environment
from thinkcli.tune.frontier import LEVELS, frontier
from thinkcli.tune.grid import Arm, Point
from thinkcli.tune.stats import interval, mcnemar, verdict


@dataclass
class Result:
    """A finished tuning run.

    Args:
        model: the model's name.
        source: the problem file.
        problems: how many problems.
        points: every strategy measured on all of them.
        levels: the point each level is, chosen on all problems.
        held_out: per level, the point it was for each problem when chosen without it.
        dropped: strategies stopped early, and why.
        folds: cross-validation folds.
    """

    model: str
    source: Path
    problems: int
    points: list[Point]
    levels: dict[str, Point]
    held_out: dict[str, list[int | None]]
    dropped: dict[str, str]
    folds: int

    def outcomes(self, level: str) -> tuple[list[bool], list[int]]:
        """The level's results on each problem when it was chosen without that problem."""
        picks = self.held_out[level]
        correct = [bool(self.points[k].correct[i]) for i, k in enumerate(picks) if k is not None]
        tokens = [self.points[k].tokens[i] for i, k in enumerate(picks) if k is not None]
        return correct, tokens

    def rows(self) -> list[dict]:
        """One row per level: the strategy, its accuracy on all problems and held out, its
        interval and tokens, and the paired test against ``none`` (held out too)."""
        every = range(self.problems)
        base, _ = self.outcomes("none")
        out = []
        for level in LEVELS:
            point = self.levels[level]
            correct, tokens = self.outcomes(level)
            low, high = interval(correct)
            row = {"level": level, "strategy": point.label, "accuracy": round(point.accuracy(every), 4),
                   "held_out": round(sum(correct) / max(1, len(correct)), 4), "low": round(low, 4),
                   "high": round(high, 4), "tokens": round(point.mean_tokens(every), 1),
                   "held_out_tokens": round(sum(tokens) / max(1, len(tokens)), 1)}
            if level != "none":
                test = mcnemar(correct, base)
                row["vs_none"] = {"wins": test.wins, "losses": test.losses, "p": round(test.p, 4),
                                  "verdict": verdict(test)}
            out.append(row)
        return out

    def summary(self) -> list[dict]:
        return self.rows()


def grid_line(arms: Sequence[Arm]) -> str:
    """The grid in one line."""
    parts = []
    for arm in arms:
        if arm.greedy:
            parts.append("direct greedy")
        elif arm.think == 0:
            parts.append(f"direct ×{arm.paths}")
        else:
            kind = "two-stage thinking" if arm.fmt == "stepwise" else "thinking"
            parts.append(f"{kind} {arm.think} ×{arm.paths}")
    checked = [f"{arm.verify} {'direct' if arm.think == 0 else 'thinking'}" for arm in arms if arm.verify]
    return "strategies: " + " · ".join(parts) + (f"; the verifier checks {' and '.join(checked)} answers"
                                                 if checked else "")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def table(rows: list[dict], folds: int) -> Table:
    t = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in (("level", "left"), ("strategy", "left"), ("tuning", "right"),
                          (f"held out ({folds}-fold)", "right"), ("95% interval", "right"), ("tokens", "right"),
                          ("held out vs none", "left")):
        t.add_column(name, justify=justify)
    for row in rows:
        versus = row.get("vs_none", {}).get("verdict", "-")
        t.add_row(row["level"], row["strategy"], _pct(row["accuracy"]), _pct(row["held_out"]),
                  f"{_pct(row['low'])}–{_pct(row['high'])}", f"{row['tokens']:,.0f}", versus)
    return t


def _summaries(result: Result) -> list[LevelSummary]:
    """The frontier (fixed strategies, and the chosen adaptive one) as rows ``curve`` draws."""
    every = list(range(result.problems))
    names: dict[int, list[str]] = {}
    for level, point in result.levels.items():
        names.setdefault(id(point), []).append(level)
    fixed = [p for p in result.points if not p.adaptive]
    shown = frontier(fixed, every) + [p for p in result.levels.values() if p.adaptive]
    rows = []
    for point in dict.fromkeys(shown):
        correct = sum(bool(point.correct[i]) for i in every)
        low, high = interval([bool(point.correct[i]) for i in every])
        tag = ", ".join(names.get(id(point), []))
        rows.append(LevelSummary(
            effort=f"{tag}: {point.label}" if tag else point.label, problems=result.problems, errors=0,
            graded=result.problems, correct=correct, accuracy=correct / result.problems, low=low, high=high,
            thinking_tokens=0.0, generated_tokens=point.mean_tokens(every), paths=float(point.preset.samples),
            seconds=0.0, tokens_per_correct=None))
    return rows


def show(env: Environment, result: Result, *, profile_path: Path | None, json_out: bool) -> None:
    """Print the frontier and the levels (stdout), or one JSON document."""
    rows = result.rows()
    if json_out:
        doc = {"model": result.model, "source": str(result.source), "problems": result.problems,
               "folds": result.folds, "levels": rows, "dropped": result.dropped,
               "frontier": [{"label": s.effort, "accuracy": s.accuracy, "tokens": round(s.generated_tokens, 1)}
                            for s in _summaries(result)],
               "profile": str(profile_path) if profile_path else None}
        env.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    out, err = env.out_console(), env.err_console()
    out.print(f"Accuracy against tokens per problem, {result.problems} problems (the frontier):")
    out.print(curve(_summaries(result)))
    out.print(table(rows, result.folds))
    out.print(f"[dim]tuning: on all {result.problems} problems, where the levels were chosen (optimistic); held out: "
              f"on the problems each level was not chosen on ({result.folds}-fold cross-validation), with its 95% "
              "interval and an exact paired test (McNemar) against none.[/dim]", highlight=False)
    if all(row.get("vs_none", {}).get("verdict", "").startswith("too few") for row in rows[1:]):
        out.print(f"{result.problems} problems are too few to tell these levels apart: intervals are about "
                  f"±{100 / math.sqrt(result.problems):.0f} points wide; 100 or more problems tell better.",
                  highlight=False)
    for name, why in result.dropped.items():
        out.print(f"[dim]{name} was stopped {why}[/dim]", highlight=False)
    if profile_path is not None:
        err.print(f"wrote the profile of {result.model} to {profile_path}: ask, chat and batch use these levels "
                  "from now on (thinkcli tune --reset forgets them)", highlight=False)


def save_plot(result: Result, path: Path) -> None:
    save_curve(_summaries(result), path)
