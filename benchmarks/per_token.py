"""Per-token cost of the engine's per-step work, per stage, without llama.cpp in the loop.

Random logits rows of real vocabulary sizes (49,152 smollm2; 151,936 Qwen3;
201,088 gpt-oss) stand in for a decode's output rows. Each stage runs over the
same steps for 1, 4 and 8 live paths; prints the median microseconds per token
per path. ``numeric`` is the chosen token's log-probability and top-20 token
confidence: ``before`` one numpy pass per path for the log-probability alone (as
shipped before token confidence), ``naive`` the same plus a full partition per
path for the top-k, ``after`` one vectorised StepStats call for all paths.

    python benchmarks/per_token.py [repeats]
"""

from __future__ import annotations

import codecs
import math
import statistics
import sys
import time

import numpy as np

from thinkcli.engine import Token
from thinkcli.engine.fake import FakeBatch
from thinkcli.engine.stats import TOP_K, StepStats
from thinkcli.events import Text
from thinkcli.reasoning import FORMATS
from thinkcli.turn.sample import Budget, Sample

VOCABS = (49_152, 151_936, 201_088)
PATHS = (1, 4, 8)
STEPS = 64
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
PIECES = [f" w{i}".encode() for i in range(4096)] + ["€".encode()[:1], "€".encode()[1:2], "€".encode()[2:]]


def per_path_logprob(rows: np.ndarray, tokens: np.ndarray) -> list[float]:
    out = []
    for row, token in zip(rows, tokens):
        top = float(row.max())
        out.append(float(row[token]) - top - math.log(float(np.exp(row - top).sum())))
    return out


def per_path_with_topk(rows: np.ndarray, tokens: np.ndarray) -> list[tuple[float, float]]:
    out = []
    for row, token in zip(rows, tokens):
        top = float(row.max())
        lse = top + math.log(float(np.exp(row - top).sum()))
        best = np.partition(row, len(row) - TOP_K)[-TOP_K:]
        out.append((float(row[token]) - lse, lse - float(best.mean())))
    return out


def timed(fn, steps: int) -> float:
    """Median over REPEATS of the seconds per step."""
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for step in range(steps):
            fn(step)
        runs.append((time.perf_counter() - start) / steps)
    return statistics.median(runs)


def numeric_stages(vocab: int, paths: int) -> dict[str, float]:
    rng = np.random.default_rng(vocab + paths)
    blocks = [(rng.standard_normal((paths, vocab)) * 3).astype(np.float32) for _ in range(4)]
    tokens = [rng.integers(0, vocab, paths) for _ in range(4)]
    stats = StepStats(vocab)
    return {
        "numeric before": timed(lambda s: per_path_logprob(blocks[s % 4], tokens[s % 4]), 16),
        "numeric naive": timed(lambda s: per_path_with_topk(blocks[s % 4], tokens[s % 4]), 16),
        "numeric after": timed(lambda s: stats.compute(blocks[s % 4], tokens[s % 4]), 16),
    }


def text_stages(paths: int) -> dict[str, float]:
    """Piece lookup, UTF-8 holdback, parser, the sample's bookkeeping, event creation."""
    cache = {i: p for i, p in enumerate(PIECES)}
    ids = [(s * 7 + p) % len(PIECES) for s in range(STEPS) for p in range(paths)]
    decoders = [codecs.getincrementaldecoder("utf-8")(errors="replace") for _ in range(paths)]
    texts = [decoders[0].decode(cache[i]) or "x" for i in ids]
    fmt = FORMATS["prompted"]

    def parsers(_):
        return [fmt.parser(True) for _ in range(paths)]

    live = parsers(0)
    batch = FakeBatch([[]] * paths, n_ctx=1 << 30, prompt_tokens=1, prompt_eval_tokens=1)
    samples = [Sample(p, fmt=fmt, budget=Budget(think=1 << 30), starts_in_thinking=True, started=0.0)
               for p in range(paths)]
    return {
        "piece lookup": timed(lambda s: [cache[ids[s * paths + p]] for p in range(paths)], STEPS),
        "utf-8 holdback": timed(lambda s: [decoders[p].decode(cache[ids[s * paths + p]]) for p in range(paths)], STEPS),
        "parser": timed(lambda s: [live[p].feed(texts[s * paths + p]) for p in range(paths)], STEPS),
        "sample bookkeeping": timed(
            lambda s: [samples[p].feed(Token(p, texts[s * paths + p], -0.5, confidence=2.0), batch) for p in range(paths)],
            STEPS),
        "events": timed(lambda s: [Text("reasoning", texts[s * paths + p], p, s, 0.0) for p in range(paths)], STEPS),
    }


def main() -> None:
    print(f"median microseconds per token per path (repeats={REPEATS}); shared machine: read ratios, not absolutes")
    text = {paths: text_stages(paths) for paths in PATHS}
    names = list(next(iter(text.values())))
    header = f"{'stage':20}" + "".join(f"{f'{v // 1000}k x{p}':>11}" for v in VOCABS for p in PATHS)
    print(header)
    numeric = {(v, p): numeric_stages(v, p) for v in VOCABS for p in PATHS}
    for name in ["numeric before", "numeric naive", "numeric after"]:
        print(f"{name:20}" + "".join(f"{numeric[v, p][name] / p * 1e6:11.1f}" for v in VOCABS for p in PATHS))
    for name in names:
        print(f"{name:20}" + "".join(f"{text[p][name] / p * 1e6:11.1f}" for _ in VOCABS for p in PATHS))
    total = {(v, p): numeric[v, p]["numeric after"] + sum(text[p].values()) for v in VOCABS for p in PATHS}
    print(f"{'total after':20}" + "".join(f"{total[v, p] / p * 1e6:11.1f}" for v in VOCABS for p in PATHS))


if __name__ == "__main__":
    main()
