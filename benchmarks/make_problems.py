"""Write benchmarks/problems.jsonl: arithmetic word problems with known answers.

Deterministic (a fixed seed), so the file can be regenerated and compared.
Half are one step (add or take away), half two steps (buy several, then pay;
share, then add). Records are ``{"id", "question", "answer"}``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["Hana", "Omar", "Lena", "Ravi", "Mia", "Tom", "Sara", "Ken", "Ada", "Luis"]
THINGS = ["marbles", "apples", "stickers", "books", "pencils", "coins", "shells", "cards"]
OUT = Path(__file__).with_name("problems.jsonl")


def one_step(rng: random.Random) -> tuple[str, int]:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a, b = rng.randint(3, 20), rng.randint(2, 15)
    if rng.random() < 0.5:
        return f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", a + b
    a += b
    return f"{name} has {a} {thing} and gives away {b}. How many {thing} does {name} have left?", a - b


def two_step(rng: random.Random) -> tuple[str, int]:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    if rng.random() < 0.5:
        n, price = rng.randint(2, 5), rng.randint(2, 9)
        paid = n * price + rng.randint(1, 10)
        return (f"{name} buys {n} {thing} at {price} dollars each and pays with {paid} dollars. "
                f"How many dollars of change does {name} get?", paid - n * price)
    groups, each, extra = rng.randint(2, 5), rng.randint(2, 6), rng.randint(1, 9)
    return (f"{name} has {groups} bags with {each} {thing} in each bag, and finds {extra} more. "
            f"How many {thing} does {name} have in all?", groups * each + extra)


def main() -> None:
    rng = random.Random(12)
    lines = []
    for i in range(60):
        question, answer = (one_step if i % 2 == 0 else two_step)(rng)
        lines.append(json.dumps({"id": f"arith-{i + 1:02d}", "question": question, "answer": str(answer)}))
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} problems to {OUT}")


if __name__ == "__main__":
    main()
