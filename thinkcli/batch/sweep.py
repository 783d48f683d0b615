"""The effort comparison: one row per level, and accuracy against tokens spent.

``summarize`` turns a run's records into numbers; ``table`` and ``curve`` draw them with
Rich (no image viewer needed); ``save_plot`` writes a picture where matplotlib is installed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table
from rich.text import Text

from thinkcli.errors import UsageError

Z95 = 1.959964  # the normal quantile of a two-sided 95% interval


@dataclass(frozen=True, slots=True)
class LevelSummary:
    """How one effort level did on the problems.

    Args:
        effort: the level.
        problems: problems with a result (errors excluded).
        errors: problems that failed.
        graded: problems with an expected answer.
        correct: of those, answered right.
        accuracy: correct / graded (None when nothing was graded).
        low, high: the Wilson 95% interval of the accuracy.
        thinking_tokens: mean thinking tokens per problem (all paths).
        generated_tokens: mean generated tokens per problem.
        paths: mean reasoning paths per problem.
        seconds: mean wall time per problem.
        tokens_per_correct: generated tokens per right answer (None with none right).
    """

    effort: str
    problems: int
    errors: int
    graded: int
    correct: int
    accuracy: float | None
    low: float | None
    high: float | None
    thinking_tokens: float
    generated_tokens: float
    paths: float
    seconds: float
    tokens_per_correct: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``correct`` successes in ``n`` trials."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(records: list[dict], levels: list[str]) -> list[LevelSummary]:
    """One summary per level, in the order given, from the records of a run.

    A problem tried again after an error counts once, by its latest record.
    """
    latest: dict[tuple, dict] = {}
    for rec in records:
        latest[(str(rec.get("id")), rec.get("effort"))] = rec
    out = []
    for level in levels:
        mine = [r for r in latest.values() if r.get("effort") == level]
        ok = [r for r in mine if "error" not in r]
        graded = [r for r in ok if "correct" in r]
        correct = sum(1 for r in graded if r["correct"])
        n = max(1, len(ok))
        generated = sum(r["stats"]["generated_tokens"] for r in ok)
        low, high = wilson(correct, len(graded)) if graded else (None, None)
        out.append(LevelSummary(
            effort=level,
            problems=len(ok),
            errors=len(mine) - len(ok),
            graded=len(graded),
            correct=correct,
            accuracy=correct / len(graded) if graded else None,
            low=low,
            high=high,
            thinking_tokens=sum(r["stats"]["thinking_tokens"] for r in ok) / n,
            generated_tokens=generated / n,
            paths=sum(len(r.get("paths", ())) for r in ok) / n,
            seconds=sum(r["stats"]["wall_s"] for r in ok) / n,
            tokens_per_correct=generated / correct if correct else None,
        ))
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def table(rows: list[LevelSummary]) -> Table:
    """The comparison as a Rich table."""
    t = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in (("effort", "left"), ("accuracy", "right"), ("95% interval", "right"),
                          ("think tok", "right"), ("paths", "right"), ("s/problem", "right"),
                          ("tok/correct", "right"), ("done", "right")):
        t.add_column(name, justify=justify)
    for r in rows:
        interval = "-" if r.low is None else f"{_pct(r.low)}–{_pct(r.high)}"
        accuracy = "-" if r.accuracy is None else f"{_pct(r.accuracy)} ({r.correct}/{r.graded})"
        per_correct = "-" if r.tokens_per_correct is None else f"{r.tokens_per_correct:,.0f}"
        done = f"{r.problems}" + (f" +{r.errors} failed" if r.errors else "")
        t.add_row(r.effort, accuracy, interval, f"{r.thinking_tokens:,.0f}", f"{r.paths:.1f}",
                  f"{r.seconds:.1f}", per_correct, done)
    return t


def curve(rows: list[LevelSummary], *, width: int = 56, height: int = 12) -> Text:
    """Accuracy against mean generated tokens (log scale), drawn in text: the scaling curve."""
    points = [(r.generated_tokens, r.accuracy, r.effort) for r in rows if r.accuracy is not None]
    text = Text()
    if not points:
        return text.append("(no expected answers: no accuracy to plot)\n", style="dim")
    xs = [math.log10(max(1.0, x)) for x, _, _ in points]
    lo, hi = min(xs), max(xs)
    span = hi - lo or 1.0
    grid = [[" "] * width for _ in range(height)]
    marks = {}
    for (x, acc, name), lx in zip(points, xs):
        col = round((lx - lo) / span * (width - 1)) if hi > lo else width // 2
        row = height - 1 - round(acc * (height - 1))
        grid[row][col] = "●"
        marks[(row, col)] = name
    for row in range(height):
        label = f"{100 * (height - 1 - row) / (height - 1):4.0f}% │" if row % 3 == 0 or row == height - 1 else "      │"
        text.append(label, style="dim")
        line = "".join(grid[row])
        names = [marks[k] for k in sorted(marks) if k[0] == row]
        text.append(line, style="bold cyan")
        if names:
            text.append("  " + ", ".join(names))
        text.append("\n")
    text.append("      └" + "─" * width + "\n", style="dim")
    left, right = f"{10 ** lo:,.0f}", f"{10 ** hi:,.0f} tokens per problem (log)"
    text.append("       " + left + " " * max(1, width - len(left) - len(right)) + right + "\n", style="dim")
    return text


def check_plot(path: Path):
    """Refuse ``--plot`` before any work if the picture cannot be made; returns pyplot."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--plot writes .png or .svg files, not {path.name}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'thinkcli[plot]'") from None
    return plt


def save_plot(rows: list[LevelSummary], path: Path) -> None:
    """Write the curve as a PNG or SVG picture (needs matplotlib)."""
    plt = check_plot(path)
    points = [r for r in rows if r.accuracy is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r.generated_tokens for r in points], [100 * r.accuracy for r in points], marker="o")
    for r in points:
        ax.annotate(r.effort, (r.generated_tokens, 100 * r.accuracy), textcoords="offset points", xytext=(4, 4))
        ax.errorbar(r.generated_tokens, 100 * r.accuracy,
                    yerr=[[100 * (r.accuracy - r.low)], [100 * (r.high - r.accuracy)]], color="grey", capsize=3)
    ax.set_xscale("log")
    ax.set_xlabel("generated tokens per problem")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Test-time scaling")
    fig.tight_layout()
    part = path.with_name(f".{path.name}.part{path.suffix}")
    fig.savefig(part)
    plt.close(fig)
    part.replace(path)
