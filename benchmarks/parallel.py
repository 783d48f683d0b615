"""Parallel exploration: 4 paths in one batch against 1 path, and against 4 runs in a row.

Prints, in one run (medians of several):
1. aggregate decode throughput of thinkcli with 4 batched paths / 1 path (target >= 1.3x),
   beside the same ratio for a bare llama.cpp loop (the ceiling on this machine);
2. wall time of one `--samples 4` run against 4 sequential single-path runs with the
   same seeds and budgets.
"""

from __future__ import annotations

import sys
import time

from _common import PROMPT, THREADS, bare_loop, median, model_path

from thinkcli.engine import Sampling
from thinkcli.engine.llama import LlamaEngine
from thinkcli.reasoning import FORMATS, NO_THINKING
from thinkcli.render import collect
from thinkcli.turn import Budget, Plan, Run, events

TOKENS = 128
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
QUESTION = "A farmer has 17 sheep and buys 5 more, then sells 8. How many sheep are left?"


def run_once(engine, selection: str, n: int, seed: int, *, thinking: bool, prompt: str, budget: Budget):
    plan = Plan("bench", selection, n, budget, thinking, Sampling(temperature=0.8), seed)
    fmt = FORMATS["prompted"] if thinking else NO_THINKING
    run = Run(engine, [{"role": "user", "content": prompt}], plan, fmt)
    started = time.perf_counter()
    stats = collect(events(run)).stats
    return stats, time.perf_counter() - started


def throughput(engine, n: int, seed: int) -> tuple[float, int]:
    budget = Budget(think=0, max_answer=TOKENS)
    stats, _ = run_once(engine, "single" if n == 1 else "vote", n, seed, thinking=False, prompt=PROMPT, budget=budget)
    return stats.decode_tok_per_s, stats.generated_tokens


def main() -> None:
    path = model_path()
    engine = LlamaEngine(path, name="smollm2-135m", ctx=8192, threads=THREADS, n_seq_max=4)
    prompt = engine.render([{"role": "user", "content": PROMPT}])
    one, four, bare1, bare4, gen1, gen4 = [], [], [], [], [], []
    throughput(engine, 1, 0)  # warm-up
    for r in range(RUNS):
        speed, generated = throughput(engine, 1, 100 + r)
        one.append(speed), gen1.append(generated)
        speed, generated = throughput(engine, 4, 200 + r)
        four.append(speed), gen4.append(generated)
        bare1.append(bare_loop(path, prompt, n_seq=1, n_tokens=TOKENS, seeds=[1]))
        bare4.append(bare_loop(path, prompt, n_seq=4, n_tokens=TOKENS, seeds=[1, 2, 3, 4]))

    budget = Budget(think=128, max_answer=64)
    batched, sequential = [], []
    for r in range(RUNS):
        seed = 300 + 10 * r
        _, wall = run_once(engine, "vote", 4, seed, thinking=True, prompt=QUESTION, budget=budget)
        batched.append(wall)
        total = 0.0
        for i in range(4):
            _, wall = run_once(engine, "single", 1, seed + i, thinking=True, prompt=QUESTION, budget=budget)
            total += wall
        sequential.append(total)
    engine.close()

    print(f"threads={THREADS} runs={RUNS} tokens per path<={TOKENS}")
    print("aggregate decode throughput (tok/s, medians)")
    print(f"  bare llama.cpp  1 path : {median(bare1):7.1f}   4 paths: {median(bare4):7.1f}   ratio {median(bare4) / median(bare1):.2f}x")
    print(f"  thinkcli        1 path : {median(one):7.1f}   4 paths: {median(four):7.1f}   ratio {median(four) / median(one):.2f}x"
          f"  (target >= 1.30x: {'ok' if median(four) / median(one) >= 1.3 else 'MISSED'})")
    print(f"  thinkcli / bare: 1 path {median(one) / median(bare1):.3f}, 4 paths {median(four) / median(bare4):.3f}")
    print(f"  tokens generated: 1 path {gen1}, 4 paths {gen4}")
    print("wall time, thinking budget 128 + answer <= 64 per path (s, medians)")
    print(f"  --samples 4 in one batch : {median(batched):6.2f}")
    print(f"  4 sequential runs        : {median(sequential):6.2f}   speed-up {median(sequential) / median(batched):.2f}x")


if __name__ == "__main__":
    main()
