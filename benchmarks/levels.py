"""Accuracy and tokens per effort level on held-out problems: before and after tuning.

Runs the real ``thinkcli batch`` (the levels exactly as a user gets them) on a problem
set tuning never saw, once per table of levels:

- ``reasoning``: the reasoning models' table (budget-forced thinking), which every model
  got before levels were chosen by model kind (pinned through a config file);
- ``builtin``: the model's built-in table for its kind, with no profile;
- ``tuned``: the model's profile as ``thinkcli tune`` wrote it (``--profile FILE``).

It prints one table per run and checks the goals: accuracy does not fall from none to
low to medium to high; high is at least twice as accurate as none; auto is at least as
accurate as high on at most 60% of its tokens. Results are kept in ``--work`` (a rerun
resumes each table).

    python benchmarks/levels.py --table reasoning --table builtin --table tuned --profile P.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from thinkcli.batch.sweep import wilson  # noqa: E402
from thinkcli.config import REASONING_EFFORTS  # noqa: E402

LEVELS = "none,low,medium,high,auto"


def reasoning_config(path: Path) -> None:
    """A config file that defines every level as the reasoning table does (so it stays so)."""
    lines = []
    for name, p in REASONING_EFFORTS.items():
        lines += [f"[efforts.{name}]", f"think_budget = {p.think_budget}", f"min_think = {p.min_think}",
                  f"samples = {p.samples}", f'selection = "{p.selection}"', ""]
    path.write_text("\n".join(lines))


def home_for(table: str, work: Path, model: Path, profile: Path | None) -> tuple[Path, dict]:
    home = work / table
    (home / "models").mkdir(parents=True, exist_ok=True)
    target = home / "models" / "smollm2-135m.gguf"
    if not target.exists():
        target.symlink_to(model)
    env = {**os.environ, "THINKCLI_HOME": str(home), "THINKCLI_CONFIG": ""}
    if table == "reasoning":
        reasoning_config(work / "reasoning.toml")
        env["THINKCLI_CONFIG"] = str(work / "reasoning.toml")
    if table == "tuned":
        if profile is None:
            raise SystemExit("--table tuned needs --profile FILE (a profile thinkcli tune wrote)")
        (home / "profiles").mkdir(exist_ok=True)
        shutil.copy(profile, home / "profiles" / profile.name)
    return home, env


def run_table(table: str, args, model: Path) -> list[dict]:
    home, env = home_for(table, args.work, model, args.profile)
    out = args.work / f"{table}.jsonl"
    command = [sys.executable, "-m", "thinkcli", "batch", args.set, "-e", args.levels, "-o", str(out),
               "--seed", str(args.seed), "--no-log"] + (["--limit", str(args.limit)] if args.limit else [])
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(["nice", *command], env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{table}: batch failed ({done.returncode}): {done.stderr[-2000:]}")
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    rows = []
    for level in args.levels.split(","):
        mine = [r for r in records if r.get("effort") == level and "error" not in r]
        correct = sum(bool(r.get("correct")) for r in mine)
        low, high = wilson(correct, len(mine))
        tokens = sum(r["stats"]["generated_tokens"] for r in mine) / max(1, len(mine))
        rows.append({"level": level, "correct": correct, "n": len(mine), "low": low, "high": high, "tokens": tokens,
                     "paths": sum(len(r["paths"]) for r in mine) / max(1, len(mine)),
                     "thinking": sum(r["stats"]["thinking_tokens"] for r in mine) / max(1, len(mine))})
    return rows


def report(table: str, rows: list[dict]) -> None:
    print(f"\n{table}:")
    print(f"{'level':8} {'accuracy':>12} {'95% interval':>14} {'tokens':>8} {'thinking':>9} {'paths':>6}")
    for r in rows:
        print(f"{r['level']:8} {100 * r['correct'] / max(1, r['n']):5.0f}% ({r['correct']:2}/{r['n']:2}) "
              f"{100 * r['low']:6.0f}%–{100 * r['high']:3.0f}% {r['tokens']:8.0f} {r['thinking']:9.0f} {r['paths']:6.1f}")
    by = {r["level"]: r for r in rows}
    accuracy = [by[n]["correct"] for n in ("none", "low", "medium", "high") if n in by]
    checks = [("accuracy never falls none→low→medium→high", accuracy == sorted(accuracy))]
    if "none" in by and "high" in by:
        checks.append((f"high {by['high']['correct']} ≥ 2 × none {by['none']['correct']}",
                       by["high"]["correct"] >= 2 * by["none"]["correct"]))
    if "auto" in by and "high" in by:
        share = by["auto"]["tokens"] / max(1.0, by["high"]["tokens"])
        checks.append((f"auto {by['auto']['correct']} ≥ high {by['high']['correct']} on {share:.0%} of its tokens "
                       "(≤ 60%)", by["auto"]["correct"] >= by["high"]["correct"] and share <= 0.6))
    for text, ok in checks:
        print(f"  {'yes' if ok else 'NO '}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", action="append", choices=("reasoning", "builtin", "tuned"), required=True)
    parser.add_argument("--set", default="mixed-heldout", help="a file, or a set thinkcli ships")
    parser.add_argument("--levels", default=LEVELS)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/thinkcli-levels"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    from _common import model_path

    model = model_path()
    for table in args.table:
        report(table, run_table(table, args, model))


if __name__ == "__main__":
    main()
