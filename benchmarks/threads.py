"""Thread count on an idle and on a busy CPU: thinkcli's default against every fixed count.

Runs the real CLI (`ask -e none --max-tokens 64 --json`) with the default thread choice
and with `--threads 1..cores`, first on an idle machine, then beside one process that
keeps a core busy. Prints medians of decode tokens per second and the ratio of the
default to the best fixed count. Targets: >= 0.95 idle, >= 0.8 with a core busy.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from contextlib import contextmanager

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
QUESTION = "Write a short story about a dragon who learns to count."
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def one_run(threads: int | None) -> float:
    cmd = [sys.executable, "-m", "thinkcli", "ask", "-e", "none", "--max-tokens", "64", "--json",
           "--seed", "1", "-t", "0", "--no-stdin", QUESTION]
    if threads is not None:
        cmd[4:4] = ["--threads", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    return json.loads(done.stdout)["stats"]["decode_tok_per_s"]


@contextmanager
def busy_core():
    """Another process that wants one whole core."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def measure(label: str) -> float:
    settings = [None, *range(1, CORES + 1)]
    speeds: dict[int | None, list[float]] = {s: [] for s in settings}
    for _ in range(RUNS):  # interleaved, so drift in the machine's speed hits every setting alike
        for s in settings:
            speeds[s].append(one_run(s))
    medians = {s: statistics.median(v) for s, v in speeds.items()}
    best = max((s for s in settings if s is not None), key=lambda s: medians[s])
    ratio = medians[None] / medians[best]
    print(f"{label}:")
    for s in settings:
        name = "default" if s is None else f"--threads {s}"
        runs = ", ".join(f"{x:.0f}" for x in speeds[s])
        print(f"  {name:12} {medians[s]:6.1f} tok/s (median; runs: {runs})")
    print(f"  default / best (--threads {best}) = {ratio:.2f}")
    return ratio


def main() -> None:
    one_run(None)  # warm the page cache
    print(f"{CORES} usable CPUs, {RUNS} runs each, 64 tokens, effort none")
    idle = measure("idle")
    with busy_core():
        busy = measure("one core busy")
    print(f"idle ratio {idle:.2f} (target >= 0.95: {'ok' if idle >= 0.95 else 'MISSED'}); "
          f"busy ratio {busy:.2f} (target >= 0.8: {'ok' if busy >= 0.8 else 'MISSED'})")


if __name__ == "__main__":
    main()
