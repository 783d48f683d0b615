"""Per-token cost of loop detection, beside the time one token may take.

Every token of every path goes through ``LoopDetector.add``. Three streams of
token-like pieces: prose (words drawn with English-like frequencies, no loop), a
table whose rows change in one cell (its separators repeat every two tokens, so
many periods match for a while, and every row ends a line to look up), and a
two-token cycle (the detector's worst case, for the few hundred tokens until it
stops the path).
Prints the median microseconds per token over several runs, and that cost as a
share of a token's time at 100 tokens/s (a small model on two cores).

    python benchmarks/loops.py [repeats]
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from thinkcli.turn.loops import LoopDetector

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
TOKENS = 20_000
BUDGET_US = 1e6 / 100  # one token's time at 100 tokens/s


def prose(n: int) -> list[str]:
    """Words drawn by Zipf's law from a 5,000-word vocabulary, with punctuation."""
    rng = random.Random(0)
    vocabulary = [f" w{rank}" for rank in range(5000)] + [",", ".", "\n"]
    weights = [1 / rank for rank in range(1, 5001)] + [0.5, 0.4, 0.1]
    return rng.choices(vocabulary, weights, k=n)


def streams() -> dict[str, list[str]]:
    table = [p for row in range(TOKENS) for p in ["|", f" {row}", " |", " yes", " |", " no", " |", "\n"]]
    cycle = [" the", " end"]
    return {
        "prose": prose(TOKENS),
        "table": table[:TOKENS],
        "loop": (cycle * TOKENS)[:TOKENS],
    }


def per_token_us(tokens: list[str]) -> float:
    """Median over REPEATS of the microseconds per token, a fresh detector per run."""
    runs = []
    for _ in range(REPEATS):
        detector = LoopDetector()
        add, reset = detector.add, detector.reset
        start = time.perf_counter()
        for text in tokens:
            if add(text):
                reset()  # a real path stops here; keep measuring the search, not the stop
        runs.append((time.perf_counter() - start) / len(tokens) * 1e6)
    return statistics.median(runs)


def main() -> None:
    print(f"loop detection, median of {REPEATS} runs of {TOKENS:,} tokens; "
          f"budget {BUDGET_US:,.0f} us per token (100 tokens/s)")
    print(f"{'stream':8}{'us/token':>10}{'share of budget':>18}")
    for name, tokens in streams().items():
        cost = per_token_us(tokens)
        print(f"{name:8}{cost:10.2f}{cost / BUDGET_US:18.4%}")


if __name__ == "__main__":
    main()
