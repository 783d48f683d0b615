"""What keeping per-token confidences costs, and what the HTML report of a big run weighs.

    python benchmarks/report.py [PATHS] [TOKENS]

A synthetic run of PATHS paths (default 16) of TOKENS tokens each (default 4,000): the
token data's size per 1,000 tokens (as thinkcli stores it, and as a rounded JSON list for
comparison), the time to pack and record the run and to read it back, and the size and
build time of ``thinkcli trace --html``'s page. Medians of 5.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thinkcli.events import Result, SampleResult, Stats  # noqa: E402
from thinkcli.render.html import run_report  # noqa: E402
from thinkcli.runlog.record import RunRecord, now  # noqa: E402
from thinkcli.runlog.store import RunStore  # noqa: E402
from thinkcli.runlog.tokens import TokenTrace, pack  # noqa: E402
from thinkcli.vote import Ballot, trace_confidence, vote  # noqa: E402

WORDS = ("so the sum of twelve and seven must be checked again step by step carefully because "
         "each digit carries and nineteen looks right but wait let me verify").split()
ANSWER_TOKENS = 24
WAIT = "\nWait,"  # what budget forcing writes into a path


def synthetic_trace(rng: random.Random, tokens: int) -> tuple[str, str, TokenTrace, list[float]]:
    """One path: its reasoning and answer, its trace, and its model tokens' confidences."""
    trace, reasoning, answer, scores = TokenTrace(), [], [], []
    r_len = a_len = 0
    level = 10.0
    wait_at = tokens // 2
    for i in range(tokens):
        level += rng.gauss(0, 0.6) + (10.0 - level) * 0.05
        score = max(0.5, level + rng.gauss(0, 1.5))
        word = " " + rng.choice(WORDS)
        if i < tokens - ANSWER_TOKENS:
            reasoning.append(word)
            r_len += len(word)
        else:
            answer.append(word)
            a_len += len(word)
        trace.add(score, r_len, a_len)
        scores.append(score)
        if i == wait_at:
            reasoning.append(WAIT)
            r_len += len(WAIT)
            trace.insert(r_len, a_len)
    raw_r, raw_a = "".join(reasoning), "".join(answer) + " The answer is 19."
    trace.keep(raw_r, raw_a)
    return raw_r, raw_a, trace, scores


def synthetic_result(paths: int = 16, tokens: int = 4000, *, seed: int = 0) -> Result:
    """A voted run of ``paths`` paths of ``tokens`` tokens each, with their traces."""
    rng = random.Random(seed)
    samples, traces = [], []
    for p in range(paths):
        raw_r, raw_a, trace, scores = synthetic_trace(rng, tokens)
        extracted = "19" if p % 4 else "18"
        samples.append(SampleResult(reasoning=raw_r.strip(), answer=raw_a.strip(), extracted=extracted,
                                    thinking_tokens=tokens - ANSWER_TOKENS, answer_tokens=ANSWER_TOKENS,
                                    confidence=round(trace_confidence(scores), 4), think_end="stop", voted=True))
        traces.append(trace)
    outcome = vote([Ballot(s.extracted, s.confidence) for s in samples])
    chosen = samples[outcome.chosen]
    return Result(answer=chosen.answer, reasoning=chosen.reasoning, model="smollm2-135m", effort="high",
                  samples=samples, votes=outcome.votes, chosen=outcome.chosen, seed=seed,
                  stats=Stats(generated_tokens=paths * tokens, thinking_tokens=paths * (tokens - ANSWER_TOKENS),
                              answer_tokens=paths * ANSWER_TOKENS, wall_s=60.0), tokens=traces)


def median_ms(action, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    result = synthetic_result(paths, tokens)
    total = paths * tokens
    blob = pack(result.tokens)
    as_json = json.dumps([[round(c, 2) for c in t.confidences] for t in result.tokens]).encode()
    texts = sum(len(s.reasoning) + len(s.answer) for s in result.samples)
    print(f"synthetic run: {paths} paths x {tokens:,} tokens = {total:,} tokens, {texts / 1e6:.1f} MB of text")
    print(f"token data as stored:   {len(blob) / 1e3:8.1f} kB  ({len(blob) / total * 1000 / 1e3:.2f} kB per 1,000 tokens)")
    print(f"  JSON, 2 decimals:     {len(as_json) / 1e3:8.1f} kB  ({len(as_json) / total * 1000 / 1e3:.2f} kB per 1,000 tokens,"
          f" no token boundaries; {len(zlib.compress(as_json, 6)) / total:.2f} kB compressed)")
    folder = Path(tempfile.mkdtemp(prefix="thinkcli-report-bench-"))
    try:
        path = folder / "thinkcli.db"
        bare = Result(**{**{f: getattr(result, f) for f in Result.__dataclass_fields__}, "tokens": []})
        with RunStore(path) as store:
            with_tokens = median_ms(lambda: store.record(RunRecord("ask", "q", result, now())))
            without = median_ms(lambda: store.record(RunRecord("ask", "q", bare, now())))
            run_id = store.record(RunRecord("ask", "What is 12 + 7?", result, now(), plan={"confidence": "lowest"}))
            read = median_ms(lambda: store.tokens(run_id))
            record, traces = store.get(run_id), store.tokens(run_id)
        print(f"pack:                   {median_ms(lambda: pack(result.tokens)):8.1f} ms")
        print(f"record the run:         {with_tokens:8.1f} ms  (without token data {without:.1f} ms,"
              f" +{with_tokens - without:.1f} ms)")
        print(f"read the token data:    {read:8.1f} ms")
        page = run_report(record, traces)
        build = median_ms(lambda: run_report(record, traces))
        print(f"HTML report:            {len(page.encode()) / 1e6:8.2f} MB, built in {build:.0f} ms"
              f" ({len(page.encode()) / texts:.1f}x the text it shows)")
        if "--keep" in sys.argv:
            Path("report-bench.html").write_text(page, encoding="utf-8")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
