"""The engine's sequence capacity: size it once for the largest level, or recreate the context.

Prints, in one run (medians of several): the time to create a context with room for
1, 8 and 64 sequences (kept model), and single-path decode speed in contexts sized for
1 and for 8 sequences. Their ratios say what sizing for the largest level costs.
"""

from __future__ import annotations

import sys
import time

from _common import PROMPT, THREADS, median, model_path

from thinkcli.engine import Sampling
from thinkcli.engine.llama import LlamaEngine
from thinkcli.reasoning import NO_THINKING
from thinkcli.turn import Budget, Plan, Run, events
from thinkcli.render import collect

TOKENS = 128
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def decode_speed(engine: LlamaEngine) -> float:
    plan = Plan("bench", "single", 1, Budget(think=0, max_answer=TOKENS), False, Sampling(temperature=0.0), 0)
    run = Run(engine, [{"role": "user", "content": PROMPT}], plan, NO_THINKING)
    return collect(events(run)).stats.decode_tok_per_s


def main() -> None:
    path = model_path()
    engine = LlamaEngine(path, name="smollm2-135m", ctx=8192, threads=THREADS, n_seq_max=1)
    created: dict[int, list[float]] = {1: [], 8: [], 64: []}
    for _ in range(RUNS):
        for n in created:
            started = time.perf_counter()
            engine.resize(n)
            created[n].append(time.perf_counter() - started)
    speeds: dict[int, list[float]] = {1: [], 8: []}
    for _ in range(RUNS):
        for n in speeds:
            engine.resize(n)
            speeds[n].append(decode_speed(engine))
    engine.close()
    print(f"threads={THREADS} runs={RUNS} ctx=8192")
    for n, times in created.items():
        print(f"new context for {n:2d} sequences : {median(times) * 1000:7.1f} ms (median)")
    for n, values in speeds.items():
        print(f"1-path decode, room for {n} : {median(values):7.1f} tok/s (median; runs: {', '.join(f'{x:.1f}' for x in values)})")
    print(f"ratio room-for-8 / room-for-1 decode: {median(speeds[8]) / median(speeds[1]):.3f}")


if __name__ == "__main__":
    main()
