"""Does selection pick better than one path? Accuracy per effort level on a problem set.

For each level: the share of problems whose chosen answer is right, the share where
path 1 alone (the first sample of the same run) is right, the share where any path is,
tokens per problem, and how often verification turned the vote. Records are JSONL
``{"id", "question", "answer"}`` (benchmarks/problems.jsonl, or a set thinkcli ships).
Levels are the model's own (its profile, or the built-in table for its kind) unless
``--table reasoning`` asks for the reasoning models' table.

    python benchmarks/selection.py --levels none,high --limit 20 --think-budget 96 --max-tokens 128
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from thinkcli.batch.grade import grade
from thinkcli.config import REASONING_EFFORTS, Settings
from thinkcli.events import Result
from thinkcli.render import collect
from thinkcli.session import Knobs, Session, preset_for
from thinkcli.tune.levels import ModelLevels
from thinkcli.tune.sets import problem_file
from thinkcli.vote import Ballot, vote

PROBLEMS = Path(__file__).with_name("problems.jsonl")


def verify_changed(result: Result) -> bool:
    """Whether the verifier's P(true) changed the choice: the same voters, voted without it."""
    voters = [i for i, s in enumerate(result.samples) if s.voted]
    if not any(result.samples[i].verify_p is not None for i in voters):
        return False
    plain = vote([Ballot(result.samples[i].extracted, result.samples[i].confidence) for i in voters])
    return voters[plain.chosen] != result.chosen


def opener(settings: Settings, err, *, n_seq_max: int, debug: bool, want_ctx: int = 8192):
    from thinkcli.load import open_engine

    return open_engine(settings, os.environ, err, n_seq_max=n_seq_max, debug=debug, want_ctx=want_ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", default=str(PROBLEMS), help="a file, or a set thinkcli ships (mixed-heldout)")
    parser.add_argument("--levels", default="none,low,high,max,auto")
    parser.add_argument("--table", choices=("model", "reasoning"), default="model",
                        help="the model's own levels, or the reasoning models' table")
    parser.add_argument("--limit", type=int, default=0, help="first N problems (0: all)")
    parser.add_argument("--think-budget", type=int, default=None)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--min-think", type=int, default=None, help="at most --think-budget")
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--format", default="auto", help="reasoning format (auto, prompted, stepwise...)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--detail", type=Path, default=None, help="write each run's paths as JSONL here")
    args = parser.parse_args()
    path = problem_file(args.problems)
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    records = records[: args.limit] if args.limit else records
    settings = Settings(model=args.model, seed=args.seed, max_tokens=args.max_tokens, threads=args.threads,
                        reasoning_format=args.format)
    settings = (replace(settings, efforts=REASONING_EFFORTS, custom_efforts=frozenset(REASONING_EFFORTS))
                if args.table == "reasoning" else ModelLevels(os.environ).before_load(settings))
    detail = args.detail.open("w") if args.detail else None
    err = Console(stderr=True)
    print(f"{len(records)} problems from {path.name}, seed {args.seed}, think budget {args.think_budget or 'level'}, "
          f"max answer {args.max_tokens}, format {args.format}")
    print(f"{'level':8} {'chosen':>8} {'path 1':>8} {'any':>8} {'tokens':>8} {'s/problem':>10} {'verify turned':>14}")
    for name in args.levels.split(","):
        knobs = Knobs(think_budget=args.think_budget if name != "none" else None, samples=args.samples,
                      min_think=args.min_think if name != "none" else None)
        level = preset_for(replace(settings, effort=name), knobs)
        chosen = first = anyone = tokens = turned = 0
        started = time.perf_counter()
        with Session.open(settings, knobs, opener, err, levels=[level]) as session:
            for record in records:
                messages = session.messages(record["question"])
                result = collect(session.turn(messages, session.plan(messages, level)))
                pick = result.samples[result.chosen]
                chosen += grade(pick.answer, pick.extracted, record["answer"])
                first += grade(result.samples[0].answer, result.samples[0].extracted, record["answer"])
                anyone += any(grade(s.answer, s.extracted, record["answer"]) for s in result.samples)
                tokens += result.stats.generated_tokens
                turned += verify_changed(result)
                if detail:
                    detail.write(json.dumps({"level": name, "id": record["id"], "answer": record["answer"],
                                             "result": result.to_dict()}) + "\n")
        n = len(records)
        print(f"{name:8} {chosen:4}/{n:<3} {first:4}/{n:<3} {anyone:4}/{n:<3} {tokens / n:8.0f} "
              f"{(time.perf_counter() - started) / n:10.1f} {turned:14}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
