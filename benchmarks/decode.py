"""Decode throughput: thinkcli's loop against a bare llama.cpp loop, at temperature 0.

Both decode the same model with the same threads and the same number of tokens
(greedy, so the same tokens); prints the medians of several runs and their ratio.
The target: thinkcli within 5% of the bare loop (ratio >= 0.95).
"""

from __future__ import annotations

import sys

from _common import PROMPT, THREADS, bare_loop, median, model_path

from thinkcli.engine import Sampling
from thinkcli.engine.llama import LlamaEngine
from thinkcli.reasoning import NO_THINKING
from thinkcli.render import collect
from thinkcli.turn import Budget, Plan, Run, events

TOKENS = 256
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def thinkcli_loop(engine: LlamaEngine) -> tuple[float, int]:
    """One single-path run with thinking off, events consumed as the CLI would."""
    plan = Plan("bench", "single", 1, Budget(think=0, max_answer=TOKENS), False, Sampling(temperature=0.0), 0)
    run = Run(engine, [{"role": "user", "content": PROMPT}], plan, NO_THINKING)
    stats = collect(events(run)).stats
    return stats.decode_tok_per_s, stats.generated_tokens


def main() -> None:
    path = model_path()
    engine = LlamaEngine(path, name="smollm2-135m", ctx=4096, threads=THREADS, n_seq_max=1)
    ours, bare = [], []
    thinkcli_loop(engine)  # warm up caches and the page cache
    for _ in range(RUNS):
        engine.close()  # a fresh context each run, as the bare loop gets
        engine = LlamaEngine(path, name="smollm2-135m", ctx=4096, threads=THREADS, n_seq_max=1)
        speed, generated = thinkcli_loop(engine)
        ours.append(speed)
        prompt = engine.render([{"role": "user", "content": PROMPT}])
        bare.append(bare_loop(path, prompt, n_seq=1, n_tokens=generated))
    engine.close()
    print(f"threads={THREADS} runs={RUNS} tokens~{generated}")
    print(f"bare llama.cpp loop : {median(bare):7.1f} tok/s (median; runs: {', '.join(f'{x:.1f}' for x in bare)})")
    print(f"thinkcli loop       : {median(ours):7.1f} tok/s (median; runs: {', '.join(f'{x:.1f}' for x in ours)})")
    ratio = median(ours) / median(bare)
    print(f"ratio thinkcli/bare : {ratio:.3f}  (target >= 0.95: {'ok' if ratio >= 0.95 else 'MISSED'})")


if __name__ == "__main__":
    main()
