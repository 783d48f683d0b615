"""Batch throughput: problems per second with `--parallel 4` against `--parallel 1`.

Runs `thinkcli batch` on the same 16 generated problems (effort none, 48 answer tokens at
most, the same seed) alternating the two settings; prints medians and their ratio.
Target: at least 1.3x on two CPU cores.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
PROBLEMS = 16


def problem_file(directory: Path) -> Path:
    path = directory / "problems.jsonl"
    rows = [{"id": i, "question": f"Tom has {i + 3} apples and buys {2 * i + 5} more. How many apples does he have?",
             "answer": str(3 * i + 8)} for i in range(PROBLEMS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def problems_per_second(path: Path, parallel: int) -> float:
    out = path.with_name(f"out{parallel}.jsonl")
    cmd = [sys.executable, "-m", "thinkcli", "batch", str(path), "-o", str(out), "--overwrite", "-e", "none",
           "--max-tokens", "48", "--seed", "1", "--parallel", str(parallel)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ))
    return PROBLEMS / (time.perf_counter() - started)


def measure(runs: int = RUNS) -> tuple[float, float]:
    """Median problems per second at --parallel 1 and 4."""
    with tempfile.TemporaryDirectory() as tmp:
        path = problem_file(Path(tmp))
        problems_per_second(path, 1)  # warm the page cache
        one, four = [], []
        for _ in range(runs):
            one.append(problems_per_second(path, 1))
            four.append(problems_per_second(path, 4))
    return statistics.median(one), statistics.median(four)


def ceiling(runs: int = RUNS) -> float:
    """The bare llama.cpp loop's own 4-sequence over 1-sequence throughput on this machine."""
    from _common import PROMPT, bare_loop, model_path

    path = model_path()
    one = [bare_loop(path, PROMPT, n_seq=1, n_tokens=48, seeds=[1]) for _ in range(runs)]
    four = [bare_loop(path, PROMPT, n_seq=4, n_tokens=48, seeds=[1, 2, 3, 4]) for _ in range(runs)]
    return statistics.median(four) / statistics.median(one)


def main() -> None:
    one, four = measure()
    bare = ceiling()
    print(f"{PROBLEMS} problems, effort none, <= 48 answer tokens, {RUNS} runs each (medians)")
    print(f"--parallel 1: {one:.2f} problems/s")
    print(f"--parallel 4: {four:.2f} problems/s   ratio {four / one:.2f}x "
          f"(target >= 1.30x: {'ok' if four / one >= 1.3 else 'MISSED'})")
    print(f"the bare llama.cpp loop, 4 sequences against 1, on this machine now: {bare:.2f}x")


if __name__ == "__main__":
    main()
