"""The one decode loop against a bare llama.cpp loop: the four ratios, in one run.

1. one path: thinkcli's tokens per second over the bare loop's (target >= 0.97);
2. four paths of one question: thinkcli's 4-against-1 throughput ratio over the bare
   loop's own (target >= 0.95);
3. `batch --parallel 4` at effort none: its problems-per-second ratio over `--parallel 1`,
   over the bare loop's 4-against-1 ratio (target >= 0.95);
4. `batch -e high --parallel 2` over 8 problems against `--parallel 1` (target >= 1.2x),
   5 paths a problem (pinned, whatever the model's table says): multi-path levels fill
   the batch with the paths of several problems.

Each pair is measured interleaved, several times; medians. The machine is noisy: read
the ratios.

    python benchmarks/scheduler.py [runs]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import batch as batch_bench
import decode
import parallel
from _common import PROMPT, THREADS, bare_loop, median, model_path

from thinkcli.engine.llama import LlamaEngine

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
HIGH_PROBLEMS = 8


def one_path() -> tuple[float, float]:
    path = model_path()
    ours, bare = [], []
    engine = LlamaEngine(path, name="smollm2-135m", ctx=4096, threads=THREADS, n_seq_max=1)
    decode.thinkcli_loop(engine)  # warm up
    prompt = engine.render([{"role": "user", "content": PROMPT}])
    for _ in range(RUNS):
        speed, generated = decode.thinkcli_loop(engine)
        ours.append(speed)
        bare.append(bare_loop(path, prompt, n_seq=1, n_tokens=generated))
    engine.close()
    return median(ours), median(bare)


def four_paths() -> tuple[float, float]:
    path = model_path()
    engine = LlamaEngine(path, name="smollm2-135m", ctx=8192, threads=THREADS, n_seq_max=4)
    prompt = engine.render([{"role": "user", "content": PROMPT}])
    one, four, bare1, bare4 = [], [], [], []
    parallel.throughput(engine, 1, 0)
    for r in range(RUNS):
        one.append(parallel.throughput(engine, 1, 100 + r)[0])
        four.append(parallel.throughput(engine, 4, 200 + r)[0])
        bare1.append(bare_loop(path, prompt, n_seq=1, n_tokens=parallel.TOKENS, seeds=[1]))
        bare4.append(bare_loop(path, prompt, n_seq=4, n_tokens=parallel.TOKENS, seeds=[1, 2, 3, 4]))
    engine.close()
    return median(four) / median(one), median(bare4) / median(bare1)


def high_batch(directory: Path, parallel_: int) -> float:
    problems = directory / "high.jsonl"
    if not problems.exists():
        rows = [{"id": i, "question": f"Tom has {i + 3} apples and buys {2 * i + 5} more. How many apples now?",
                 "answer": str(3 * i + 8)} for i in range(HIGH_PROBLEMS)]
        problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = directory / f"high{parallel_}.jsonl"
    cmd = [sys.executable, "-m", "thinkcli", "batch", str(problems), "-o", str(out), "--overwrite", "-e", "high",
           "--think-budget", "96", "--samples", "5", "--max-tokens", "48", "--seed", "1", "--parallel", str(parallel_),
           "--no-log"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ))
    return HIGH_PROBLEMS / (time.perf_counter() - started)


def main() -> None:
    ours, bare = one_path()
    four, bare_four = four_paths()
    b1, b4 = batch_bench.measure(RUNS)
    bare_batch = batch_bench.ceiling(RUNS)
    with tempfile.TemporaryDirectory() as tmp:
        high1, high2 = [], []
        for _ in range(RUNS):
            high1.append(high_batch(Path(tmp), 1))
            high2.append(high_batch(Path(tmp), 2))
    rows = [
        ("1 path: thinkcli / bare tok/s", ours / bare, 0.97, f"{ours:.1f} / {bare:.1f}"),
        ("4 paths: thinkcli 4:1 / bare 4:1", four / bare_four, 0.95, f"{four:.2f}x / {bare_four:.2f}x"),
        ("batch --parallel 4:1 / bare 4:1", (b4 / b1) / bare_batch, 0.95, f"{b4 / b1:.2f}x / {bare_batch:.2f}x"),
        ("batch -e high --parallel 2 / 1", median(high2) / median(high1), 1.2,
         f"{median(high2):.2f} / {median(high1):.2f} problems/s"),
    ]
    print(f"threads={THREADS} runs={RUNS} (medians of interleaved runs)")
    for name, ratio, target, detail in rows:
        print(f"{name:<36} {ratio:6.3f}  target >= {target:<4}  {'ok' if ratio >= target else 'MISSED'}   ({detail})")


if __name__ == "__main__":
    main()
