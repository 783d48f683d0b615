"""`python -m benchmarks`: every benchmark in one table.

Each row is a median of a few runs (noisy machines: read the ratios, not the absolute
numbers). Rows: decode against a bare llama.cpp loop; 4 batched paths against 1;
`batch --parallel 4` against 1; prompt tokens evaluated on a follow-up turn;
`thinkcli --help` start-up time; peak resident memory against the model file's size.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the scripts import _common as siblings

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def decode_ratio() -> str:
    import decode
    from _common import bare_loop, model_path

    from thinkcli.engine.llama import LlamaEngine

    path = model_path()
    ours, bare = [], []
    for _ in range(RUNS):
        engine = LlamaEngine(path, name="smollm2-135m", ctx=4096, threads=decode.THREADS, n_seq_max=1)
        speed, generated = decode.thinkcli_loop(engine)
        prompt = engine.render([{"role": "user", "content": decode.PROMPT}])
        engine.close()
        ours.append(speed)
        bare.append(bare_loop(path, prompt, n_seq=1, n_tokens=generated))
    return f"{statistics.median(ours):.0f} vs {statistics.median(bare):.0f} tok/s: {statistics.median(ours) / statistics.median(bare):.2f}x"


def paths_ratio() -> str:
    import parallel
    from _common import model_path

    from thinkcli.engine.llama import LlamaEngine

    engine = LlamaEngine(model_path(), name="smollm2-135m", ctx=8192, threads=parallel.THREADS, n_seq_max=4)
    one = [parallel.throughput(engine, 1, 100 + r)[0] for r in range(RUNS)]
    four = [parallel.throughput(engine, 4, 200 + r)[0] for r in range(RUNS)]
    engine.close()
    return f"{statistics.median(four):.0f} vs {statistics.median(one):.0f} tok/s: {statistics.median(four) / statistics.median(one):.2f}x"


def batch_ratio() -> str:
    import batch

    one, four = batch.measure(RUNS)
    return f"{four:.2f} vs {one:.2f} problems/s: {four / one:.2f}x"


def follow_up_tokens() -> str:
    from _common import model_path

    from thinkcli.config import Settings
    from thinkcli.engine.llama import LlamaEngine
    from thinkcli.render import collect
    from thinkcli.session import Knobs, Session

    settings = Settings(model=str(model_path()), seed=1, max_tokens=32, effort="none")
    session = Session(LlamaEngine(model_path(), name="smollm2-135m", n_seq_max=1), settings, Knobs())
    with session:
        first = [{"role": "user", "content": "What is the capital of France?"}]
        answer = collect(session.turn(first, session.plan(first))).answer
        second = [*first, {"role": "assistant", "content": answer}, {"role": "user", "content": "And of Italy?"}]
        result = collect(session.turn(second, session.plan(second)))
    return f"{result.stats.prompt_eval_tokens} of {result.stats.prompt_tokens} prompt tokens evaluated"


def help_startup() -> str:
    times = []
    for _ in range(max(RUNS, 5)):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "thinkcli", "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return f"{1000 * statistics.median(times):.0f} ms"


def peak_memory() -> str:
    from _common import model_path

    size = model_path().stat().st_size
    subprocess.run([sys.executable, "-m", "thinkcli", "ask", "-e", "none", "--max-tokens", "16", "--no-stdin", "Hi"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kilobytes on Linux
    return f"{peak / 1e6:.0f} MB, {peak / size:.1f}x the {size / 1e6:.0f} MB model file"


ROWS = (
    ("decode, thinkcli vs bare llama.cpp (target >= 0.95x)", decode_ratio),
    ("4 batched paths vs 1 (target >= 1.3x)", paths_ratio),
    ("batch --parallel 4 vs 1 (target >= 1.3x)", batch_ratio),
    ("follow-up turn: prompt tokens evaluated", follow_up_tokens),
    ("thinkcli --help start-up", help_startup),
    ("peak resident memory of ask", peak_memory),
)


def main() -> None:
    print(f"{os.cpu_count()} CPUs, {RUNS} runs per row (medians)")
    width = max(len(name) for name, _ in ROWS)
    for name, measure in ROWS:
        print(f"{name:<{width}}  {measure()}", flush=True)


if __name__ == "__main__":
    main()
