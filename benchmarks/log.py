"""What the run log costs: recording one run, listing, searching and reading back, small log against large.

    python benchmarks/log.py [RUNS]

Each figure is the median of RUNS timings (default 21) on a log of 100 runs and on one of
10,000 (a high-effort run each: 5 paths of about 12 KB of reasoning). Recording happens
after the answer is printed, so its time is added to the process's exit, not to the answer.
Then what per-token confidences add: the same run recorded with and without them, and the
log's growth per 1,000 tokens either way.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thinkcli.events import Result, SampleResult, Stats  # noqa: E402
from thinkcli.runlog.record import RunRecord, now  # noqa: E402
from thinkcli.runlog.recorder import Recorder  # noqa: E402
from thinkcli.runlog.store import RunStore  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 21
WORDS = "so the sum of twelve and seven must be checked again step by step".split()


def result(i: int) -> Result:
    text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(2000))
    samples = [SampleResult(reasoning=text, answer=f"The answer is {i}.", extracted=str(i), thinking_tokens=3000,
                            answer_tokens=12, think_end="stop") for _ in range(5)]
    return Result(answer=f"The answer is {i}.", reasoning=text, model="smollm2-135m", effort="high",
                  samples=samples, seed=i, stats=Stats(generated_tokens=15060))


def run(i: int) -> RunRecord:
    return RunRecord("ask", f"Question number {i}: what is {i} plus {i}?", result(i), now(), plan={"samples": 5})


def fill(path: Path, count: int) -> None:
    with RunStore(path) as store:
        for i in range(count):
            store.record(run(i))


def median_ms(action, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(path: Path) -> dict[str, float]:
    """Milliseconds per operation, each opening the store as a command does."""
    env = type("Env", (), {"vars": {"THINKCLI_HOME": str(path.parent)}, "stderr": sys.stderr})()
    counter = iter(range(10**6))

    def record() -> None:
        recorder = Recorder(env, enabled=True)
        recorder.record(run(next(counter)))
        recorder.close()

    def listing() -> None:
        with RunStore(path, create=False) as store:
            store.recent(20)

    def search() -> None:
        with RunStore(path, create=False) as store:
            store.recent(20, query="number 42")

    def last() -> None:
        with RunStore(path, create=False) as store:
            store.last()

    return {"record": median_ms(record), "log": median_ms(listing), "log -q": median_ms(search),
            "trace": median_ms(last)}


def token_data(runs: int = 40) -> None:
    """Recording time and log growth per 1,000 tokens, with per-token confidences and without."""
    from benchmarks.report import synthetic_result

    traced = synthetic_result(5, 3012, seed=1)  # 5 paths of 3,000 thinking + 12 answer tokens, as result() has
    bare = Result(**{**{f: getattr(traced, f) for f in Result.__dataclass_fields__}, "tokens": []})
    tokens = sum(s.thinking_tokens + s.answer_tokens for s in traced.samples)
    print(f"\none run of 5 paths, {tokens:,} tokens, recorded {runs} times into a fresh log:")
    for name, result in (("without token data", bare), ("with token data", traced)):
        folder = Path(tempfile.mkdtemp(prefix="thinkcli-log-bench-"))
        try:
            path = folder / "thinkcli.db"
            with RunStore(path) as store:
                store.record(RunRecord("ask", "warm-up", result, now()))
                before = path.stat().st_size + _wal(path)
                ms = median_ms(lambda: store.record(RunRecord("ask", "q", result, now())), runs)
                store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                grown = path.stat().st_size + _wal(path) - before
            print(f"  {name:<19} record {ms:6.1f} ms   log +{grown / runs / tokens:.2f} kB per 1,000 tokens")
        finally:
            shutil.rmtree(folder)


def _wal(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def main() -> None:
    rows = {}
    for count in (100, 10_000):
        folder = Path(tempfile.mkdtemp(prefix="thinkcli-log-bench-"))
        path = folder / "thinkcli.db"
        start = time.perf_counter()
        fill(path, count)
        print(f"filled a log of {count:,} runs ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f}s",
              file=sys.stderr)
        try:
            rows[count] = measure(path)
        finally:
            shutil.rmtree(folder)
    print(f"{'operation':<10} {'100 runs':>10} {'10,000 runs':>12} {'ratio':>7}")
    for name in rows[100]:
        small, large = rows[100][name], rows[10_000][name]
        print(f"{name:<10} {small:>8.2f}ms {large:>10.2f}ms {large / small:>6.2f}x")
    token_data()


if __name__ == "__main__":
    main()
