"""Does selection pick better than one path? Accuracy per effort level on a problem set.

For each level: the share of problems whose chosen answer is right, the share
where path 1 alone (the first sample of the same run) is right, and tokens per
problem. Records are JSONL ``{"id", "question", "answer"}`` (benchmarks/problems.jsonl).

    python benchmarks/selection.py --levels none,high --limit 20 --think-budget 96 --max-tokens 128
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console

from thinkcli.answers import normalize
from thinkcli.ask import Knobs, make_plan, preset_for
from thinkcli.config import Settings
from thinkcli.events import Done, Result
from thinkcli.reasoning import detect_format
from thinkcli.turn import STRATEGIES, Run, paths_at_once
from thinkcli.turn.prompt import build_prompt
from thinkcli.vote import Ballot, vote

PROBLEMS = Path(__file__).with_name("problems.jsonl")


def right(extracted: str | None, answer: str) -> bool:
    return extracted is not None and normalize(extracted) == normalize(answer)


def verify_changed(result: Result) -> bool:
    """Whether the verifier's P(true) changed the choice: the same voters, voted without it."""
    voters = [i for i, s in enumerate(result.samples) if s.voted]
    if not any(result.samples[i].verify_p is not None for i in voters):
        return False
    plain = vote([Ballot(result.samples[i].extracted, result.samples[i].confidence) for i in voters])
    return voters[plain.chosen] != result.chosen


def run_one(engine, settings: Settings, knobs: Knobs, question: str) -> Result:
    level = preset_for(settings, knobs)
    fmt = detect_format(engine.info.chat_template, settings.reasoning_format)
    messages = [{"role": "user", "content": question}]
    prompt, _ = build_prompt(engine, fmt, messages, thinking=level.think_budget > 0)
    plan = make_plan(settings, knobs, level, engine, engine.count_tokens(prompt), lambda _: None)
    for event in STRATEGIES[plan.selection](Run(engine, messages, plan, fmt)):
        if isinstance(event, Done):
            return event.result
    raise RuntimeError("the strategy ended without a result")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=Path, default=PROBLEMS)
    parser.add_argument("--levels", default="none,low,high,max,auto")
    parser.add_argument("--limit", type=int, default=0, help="first N problems (0: all)")
    parser.add_argument("--think-budget", type=int, default=None)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--min-think", type=int, default=None, help="at most --think-budget")
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--format", default="auto", help="reasoning format (auto, prompted, ...)")
    parser.add_argument("--detail", type=Path, default=None, help="write each run's paths as JSONL here")
    args = parser.parse_args()
    records = [json.loads(line) for line in args.problems.read_text().splitlines() if line.strip()]
    if args.limit:
        records = records[: args.limit]
    from thinkcli.engine.llama import LlamaEngine
    from thinkcli.load import locate

    detail = args.detail.open("w") if args.detail else None
    print(f"{len(records)} problems, seed {args.seed}, think budget {args.think_budget or 'level'}, "
          f"max answer {args.max_tokens}, format {args.format}")
    print(f"{'level':8} {'chosen':>8} {'path 1':>8} {'tokens':>8} {'s/problem':>10} {'verify turned':>14}")
    for name in args.levels.split(","):
        settings = Settings(effort=name, seed=args.seed, max_tokens=args.max_tokens, threads=args.threads,
                            reasoning_format=args.format)
        knobs = Knobs(think_budget=args.think_budget if name != "none" else None, samples=args.samples,
                      min_think=args.min_think if name != "none" else None)
        level = preset_for(settings, knobs)
        path, _ = locate(settings, {}, Console(stderr=True))
        engine = LlamaEngine(path, name=settings.model, ctx=4096, threads=args.threads,
                             n_seq_max=paths_at_once(level.selection, level.samples))
        chosen = first = tokens = turned = 0
        started = time.perf_counter()
        for record in records:
            result = run_one(engine, settings, knobs, record["question"])
            pick = result.samples[result.chosen]
            chosen += right(pick.extracted, record["answer"])
            first += right(result.samples[0].extracted, record["answer"])
            tokens += result.stats.generated_tokens
            turned += verify_changed(result)
            if detail:
                detail.write(json.dumps({"level": name, "id": record["id"], "answer": record["answer"],
                                         "result": result.to_dict()}) + "\n")
        engine.close()
        n = len(records)
        print(f"{name:8} {chosen:4}/{n:<3} {first:4}/{n:<3} {tokens / n:8.0f} "
              f"{(time.perf_counter() - started) / n:10.1f} {turned:14}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
