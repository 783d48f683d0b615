"""Time from Ctrl-C to exit while a 5,000-word prompt is being evaluated.

Runs the real CLI in a pseudo-terminal (`ask -e low -f FILE`, a 5,000-word file),
waits for the spinner plus a delay so the prompt evaluation is under way, sends
Ctrl-C, and measures the seconds until "(interrupted)" appears and until the
process exits. Then times the whole evaluation of the same prompt with the
engine's chunk size against one chunk of llama.cpp's full batch (2048), to show
what the small chunks cost. Prints each run, the medians and the ratio.
Usage: interrupt.py [RUNS] [DELAY_S]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 1.5
WORDS = 5000


def notes(path: Path) -> None:
    rng = random.Random(7)
    vocab = "the model reads a long note about rivers cities numbers trains and weather in spring".split()
    words = [rng.choice(vocab) for _ in range(WORDS)]
    lines = [" ".join(words[i : i + 12]) for i in range(0, WORDS, 12)]
    path.write_text("\n".join(lines) + "\n\nSummarize these notes in one sentence.\n")


def one_run(file: Path, env: dict) -> tuple[float, float]:
    child = pexpect.spawn(sys.executable, ["-m", "thinkcli", "ask", "-e", "low", "--seed", "1", "-f", str(file)],
                          env=env, dimensions=(40, 100), encoding="utf-8", timeout=300)
    child.expect("Waiting for the model")
    time.sleep(DELAY)
    sent = time.perf_counter()
    child.sendintr()
    child.expect_exact("(interrupted)")
    seen = time.perf_counter() - sent
    child.expect(pexpect.EOF)
    exited = time.perf_counter() - sent
    child.close()
    if child.exitstatus != 130:
        raise SystemExit(f"expected exit 130, got {child.exitstatus}")
    return seen, exited


def eval_seconds(file: Path, chunk: int) -> float:
    from thinkcli.engine import Sampling, llama
    from thinkcli.load import model_store

    llama.PROMPT_CHUNK = chunk
    engine = llama.LlamaEngine(model_store(os.environ).resolve("smollm2-135m"), name="smollm2-135m", n_seq_max=1)
    try:
        started = time.perf_counter()
        engine.start(file.read_text(), n=1, sampling=Sampling(0.0), seeds=[1]).close()
        return time.perf_counter() - started
    finally:
        engine.close()


def main() -> None:
    home = os.environ.get("THINKCLI_HOME") or str(Path.home() / ".cache" / "thinkcli-tests")
    env = {**os.environ, "THINKCLI_HOME": home, "TERM": "xterm-256color"}
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "notes.txt"
        notes(file)
        seen, exited = [], []
        for run in range(RUNS):
            s, e = one_run(file, env)
            seen.append(s)
            exited.append(e)
            print(f"run {run + 1}: '(interrupted)' after {s:.2f}s, exit after {e:.2f}s", flush=True)
        print(f"median: '(interrupted)' after {statistics.median(seen):.2f}s, "
              f"exit after {statistics.median(exited):.2f}s")
        os.environ["THINKCLI_HOME"] = home
        from thinkcli.engine.llama import PROMPT_CHUNK

        small = statistics.median(eval_seconds(file, PROMPT_CHUNK) for _ in range(RUNS))
        large = statistics.median(eval_seconds(file, 2048) for _ in range(RUNS))
        print(f"whole prompt evaluation: {small:.2f}s in chunks of {PROMPT_CHUNK}, {large:.2f}s in chunks of 2048 "
              f"(ratio {small / large:.2f})")


if __name__ == "__main__":
    main()
