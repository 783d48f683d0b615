"""Tokens spent in loops by real models: every level of ``ask`` on both small models.

Runs the real ``thinkcli ask --json`` on the default model (``smollm2-135m``, an
instruct model) and ``gemma3-270m`` (a base model of another family with no chat
template, answered through a completion prompt) at every effort level, on questions
that make small models repeat themselves. For each path it reports how it ended, and
checks the goal: no path spends more than 600 tokens in a loop.

A stopped loop spends at most its window and one cycle (the detector's rule). A loop the
detector missed would run on to a budget or the length limit, so every path that ended
there is looked at after the fact: the share of its last lines that repeat an earlier
line, and how many tokens that repeating tail holds (``repeating tail``). A tail of more
than 600 tokens is a loop that was not stopped.

    python benchmarks/loop_stops.py [--models smollm2-135m,gemma3-270m] [--levels ...] [--reasoning]

``--reasoning`` pins every level to the reasoning models' table (budget-forced thinking
in prompted tags), where these models loop most.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

QUESTIONS = [
    "What is 12 + 7?",
    "List the prime numbers below 30.",
    "Hana has 9 marbles and gets 8 more. How many marbles does Hana have now?",
]
GOAL = 600


def repeating_tail(text: str) -> int:
    """Characters at the end of ``text`` made of lines (3 or more characters) written before."""
    lines = text.splitlines(keepends=True)
    tail, firsts = 0, {}
    for i, line in enumerate(lines):
        firsts.setdefault(line.strip(), i)
    for i in range(len(lines) - 1, -1, -1):
        key = lines[i].strip()
        if len(key) < 3 or firsts[key] >= i:
            break
        tail += len(lines[i])
    return tail


def ask(model: str, level: str, question: str, seed: int, env: dict) -> dict:
    done = subprocess.run([sys.executable, "-m", "thinkcli", "ask", "--json", "-m", model, "-e", level, "--seed",
                           str(seed), "--no-log", question], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{model} {level}: {done.stderr[-1000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="smollm2-135m,gemma3-270m")
    parser.add_argument("--levels", default="none,low,medium,high,max,auto")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reasoning", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.reasoning:
        from levels import reasoning_config

        config = Path(tempfile.mkdtemp()) / "reasoning.toml"
        reasoning_config(config)
        env["THINKCLI_CONFIG"] = str(config)
    worst = 0
    for model in args.models.split(","):
        print(f"\n{model}")
        print(f"{'level':7} {'paths':>5} {'ends (thinking / answer)':<52} {'most tokens':>11} {'repeating tail':>15}")
        for level in args.levels.split(","):
            ends: Counter = Counter()
            paths = most = tail_tokens = 0
            for question in QUESTIONS:
                doc = ask(model, level, question, args.seed, env)
                for s in doc["samples"]:
                    paths += 1
                    ends[f"{s['think_end']}/{s['answer_end']}"] += 1
                    most = max(most, s["thinking_tokens"] + s["answer_tokens"])
                    cut_thinking = s["think_end"] in ("budget", "length")
                    if cut_thinking or s["answer_end"] == "length":
                        text = s["reasoning"] if cut_thinking else s["answer"]
                        chars = repeating_tail(text)
                        total = s["thinking_tokens"] if cut_thinking else s["answer_tokens"]
                        tail_tokens = max(tail_tokens, round(total * chars / max(1, len(text))))
            worst = max(worst, tail_tokens)
            shown = ", ".join(f"{k} {v}" for k, v in ends.most_common())
            print(f"{level:7} {paths:5} {shown:<52} {most:11} {tail_tokens:15}")
    print(f"\nlongest repeating tail left running: {worst} tokens ({'within' if worst <= GOAL else 'OVER'} "
          f"the {GOAL}-token goal); stopped loops spend at most their window and one cycle")


if __name__ == "__main__":
    main()
