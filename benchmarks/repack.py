"""Prompt evaluation with llama.cpp's weight repacking on and off (``--no-repack``).

Evaluates the same ~1,500-token prompt on a fresh context, alternating the two settings;
prints medians of prompt tokens per second and their ratio. Where repacking crashes this
CPU (what ``repack = "auto"`` guards against), it says so and measures nothing.
"""

from __future__ import annotations

import statistics
import sys
import time

from _common import THREADS, model_path

from thinkcli.engine import Sampling
from thinkcli.engine.llama import LlamaEngine, choose_repack, system_info

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
PROMPT = " ".join(f"Line {i}: the quick brown fox jumps over the lazy dog." for i in range(120))


def prompt_speed(repack: bool) -> tuple[float, int]:
    engine = LlamaEngine(model_path(), name="bench", ctx=4096, threads=THREADS, n_seq_max=1, repack=repack)
    try:
        started = time.perf_counter()
        batch = engine.start(PROMPT, n=1, sampling=Sampling(temperature=0.0), seeds=[0])
        elapsed = time.perf_counter() - started
        tokens = batch.prompt_eval_tokens
        batch.close()
    finally:
        engine.close()
    return tokens / elapsed, tokens


def main() -> None:
    safe = choose_repack(model_path())
    if not safe.value:
        print(f"repacking is off on this machine ({safe.why}): nothing to compare")
        return
    prompt_speed(True)  # warm up
    on, off = [], []
    for _ in range(RUNS):
        speed, tokens = prompt_speed(True)
        on.append(speed)
        off.append(prompt_speed(False)[0])
    print(system_info().strip())
    print(f"threads={THREADS} runs={RUNS} prompt={tokens} tokens")
    print(f"repack on : {statistics.median(on):8.1f} prompt tok/s (runs: {', '.join(f'{x:.0f}' for x in on)})")
    print(f"repack off: {statistics.median(off):8.1f} prompt tok/s (runs: {', '.join(f'{x:.0f}' for x in off)})")
    print(f"on / off  : {statistics.median(on) / statistics.median(off):.2f}")


if __name__ == "__main__":
    main()
