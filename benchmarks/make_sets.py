"""Write the graded problem sets ``thinkcli tune`` ships (thinkcli/tune/sets/).

Three kinds, each as a tuning set and a separate held-out set of 40 problems, plus
``mixed`` (a blend of the three) for both:

- arithmetic: one- and two-step word problems (add, take away, buy and get change, bags),
  with benchmarks/make_problems.py's number ranges;
- facts: common knowledge with a number for an answer (legs of a spider, sides of a
  hexagon, days in June);
- logic: short reasoning (orderings, what comes next, days of the week, larger of two,
  even or odd).

Deterministic (fixed seeds), written by this script and by nothing else; no problem is in
both a tuning and a held-out set. Logic questions ask the model to finish with "The answer
is ..." so that a model that writes a sentence can still be graded; facts have numbers
for answers, since a small model states a fact as a sentence of its own.

    python benchmarks/make_sets.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "thinkcli" / "tune" / "sets"
SIZE = 40
FORM = 'Finish with "The answer is" and your answer.'  # a placeholder ("X") gets copied
NAMES = ["Hana", "Omar", "Lena", "Ravi", "Mia", "Tom", "Sara", "Ken", "Ada", "Luis", "Nora", "Ivan", "Zoe", "Amir"]
THINGS = ["marbles", "apples", "stickers", "books", "pencils", "coins", "shells", "cards", "stamps", "buttons"]

# Common knowledge with a number for an answer: a small model states a fact as a sentence
# ("The capital of Greece is Athens."), whose last number grading reads, but not its last word.
FACTS = [
    ("How many legs does a spider have?", "8"), ("How many legs does an insect have?", "6"),
    ("How many days are in a week?", "7"), ("How many months are in a year?", "12"),
    ("How many hours are in a day?", "24"), ("How many minutes are in an hour?", "60"),
    ("How many seconds are in a minute?", "60"), ("How many sides does a triangle have?", "3"),
    ("How many sides does a square have?", "4"), ("How many sides does a pentagon have?", "5"),
    ("How many sides does a hexagon have?", "6"), ("How many sides does an octagon have?", "8"),
    ("How many continents are there on Earth?", "7"), ("How many wheels does a bicycle have?", "2"),
    ("How many wheels does a tricycle have?", "3"), ("How many days are in a leap year?", "366"),
    ("How many days are in a common year (not a leap year)?", "365"), ("How many cents are in a dollar?", "100"),
    ("How many letters are in the English alphabet?", "26"), ("How many planets are in the solar system?", "8"),
    ("How many strings does a standard guitar have?", "6"), ("How many keys does a standard piano have?", "88"),
    ("How many sides does a decagon have?", "10"), ("How many days does February have in a leap year?", "29"),
    ("How many hearts does an octopus have?", "3"), ("How many legs does a dog have?", "4"),
    ("How many legs does a bird have?", "2"), ("How many weeks are in a year?", "52"),
    ("How many zeros are in one million?", "6"), ("How many degrees are in a right angle?", "90"),
    ("How many degrees are in a full circle?", "360"),
    ("At how many degrees Celsius does water boil at sea level?", "100"),
    ("At how many degrees Celsius does water freeze?", "0"), ("How many centimeters are in a meter?", "100"),
    ("How many grams are in a kilogram?", "1000"), ("How many meters are in a kilometer?", "1000"),
    ("How many colors are in a rainbow?", "7"), ("How many rings are on the Olympic flag?", "5"),
    ("How many chambers does the human heart have?", "4"),
    ("How many players are on the field for one soccer team?", "11"),
    ("How many arms does a starfish usually have?", "5"), ("How many eggs are in a dozen?", "12"),
    ("How many years are in a century?", "100"), ("How many years are in a decade?", "10"),
    ("How many sides does a heptagon have?", "7"), ("How many sides does a nonagon have?", "9"),
    ("How many faces does a cube have?", "6"), ("How many edges does a cube have?", "12"),
    ("How many corners does a cube have?", "8"), ("How many legs does a cat have?", "4"),
    ("How many legs does an ant have?", "6"), ("How many legs does a chicken have?", "2"),
    ("How many days are in June?", "30"), ("How many days are in January?", "31"),
    ("How many days does February have in a common year?", "28"), ("How many minutes are in half an hour?", "30"),
    ("How many seconds are in an hour?", "3600"), ("How many days are in two weeks?", "14"),
    ("How many pennies are in a dime?", "10"), ("How many quarters are in a dollar?", "4"),
    ("How many inches are in a foot?", "12"), ("How many feet are in a yard?", "3"),
    ("How many ounces are in a pound?", "16"), ("How many millimeters are in a centimeter?", "10"),
    ("How many milliliters are in a liter?", "1000"), ("How many players are on the court for one basketball team?", "5"),
    ("How many squares are on a chessboard?", "64"), ("How many pieces does each chess player start with?", "16"),
    ("How many cards are in a standard deck without jokers?", "52"), ("How many suits are in a deck of cards?", "4"),
    ("How many fingers are on one hand?", "5"), ("How many toes does a person have on two feet?", "10"),
    ("How many moons does Earth have?", "1"), ("How many sides does a stop sign have?", "8"),
    ("How many faces does a standard die have?", "6"), ("How many strings does a violin have?", "4"),
    ("How many years are in a millennium?", "1000"), ("How many zeros are in one thousand?", "3"),
    ("How many teeth does an adult human usually have?", "32"), ("How many bones are in the adult human body?", "206"),
    ("How many lungs does a person have?", "2"), ("How many legs does a tripod have?", "3"),
    ("How many states are in the United States?", "50"), ("How many stripes are on the flag of the United States?", "13"),
    ("How many minutes are in a day?", "1440"), ("How many hours are in a week?", "168"),
]

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ORDERS = [("taller", "tallest", "shortest"), ("older", "oldest", "youngest"), ("faster", "fastest", "slowest"),
          ("heavier", "heaviest", "lightest")]


def arithmetic(rng: random.Random) -> tuple[str, str]:
    """benchmarks/make_problems.py's kinds and number ranges (small enough for small models)."""
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randint(3, 20), rng.randint(2, 15)
        return f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", str(a + b)
    if kind == 1:
        b = rng.randint(2, 15)
        a = b + rng.randint(3, 20)
        return f"{name} has {a} {thing} and gives away {b}. How many {thing} does {name} have left?", str(a - b)
    if kind == 2:
        n, price = rng.randint(2, 5), rng.randint(2, 9)
        paid = n * price + rng.randint(1, 10)
        return (f"{name} buys {n} {thing} at {price} dollars each and pays with {paid} dollars. "
                f"How many dollars of change does {name} get?", str(paid - n * price))
    groups, each, extra = rng.randint(2, 5), rng.randint(2, 6), rng.randint(1, 9)
    return (f"{name} has {groups} bags with {each} {thing} in each bag, and finds {extra} more. "
            f"How many {thing} does {name} have in all?", str(groups * each + extra))


def logic(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(5)
    if kind == 0:
        a, b, c = rng.sample(NAMES, 3)
        more, most, least = rng.choice(ORDERS)
        if rng.random() < 0.5:
            return f"{a} is {more} than {b}. {b} is {more} than {c}. Who is the {most}? {FORM}", a
        return f"{a} is {more} than {b}. {b} is {more} than {c}. Who is the {least}? {FORM}", c
    if kind == 1:
        start, step = rng.randint(1, 12), rng.randint(2, 9)
        seq = [start + step * i for i in range(4)]
        return f"What number comes next: {', '.join(map(str, seq))}? {FORM}", str(start + step * 4)
    if kind == 2:
        today, ahead = rng.randrange(7), rng.randint(1, 3)
        later = "tomorrow" if ahead == 1 else f"in {ahead} days"
        return f"If today is {DAYS[today]}, what day is it {later}? {FORM}", DAYS[(today + ahead) % 7]
    if kind == 3:
        x, y = rng.sample(range(11, 99), 2)
        return f"Which number is larger, {x} or {y}? {FORM}", str(max(x, y))
    n = rng.randint(11, 99)
    return f"Is {n} even or odd? {FORM}", "even" if n % 2 == 0 else "odd"


def drawn(make, seed: int, count: int) -> list[tuple[str, str]]:
    """``count`` different problems from ``make``."""
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < count:
        question, answer = make(rng)
        if question not in seen:
            seen.add(question)
            out.append((question, answer))
    return out


def records(prefix: str, problems: list[tuple[str, str]]) -> list[dict]:
    return [{"id": f"{prefix}-{i + 1:02d}", "question": q, "answer": a} for i, (q, a) in enumerate(problems)]


def main() -> None:
    facts = list(FACTS)
    random.Random(3).shuffle(facts)
    kinds = {
        "arithmetic": drawn(arithmetic, 21, 2 * SIZE),
        "facts": facts[: 2 * SIZE],
        "logic": drawn(logic, 22, 2 * SIZE),
    }
    sets: dict[str, list[dict]] = {}
    for kind, problems in kinds.items():
        sets[kind] = records(kind[:5], problems[:SIZE])
        sets[f"{kind}-heldout"] = records(f"{kind[:5]}-h", problems[SIZE:])
    for suffix in ("", "-heldout"):  # 14 + 13 + 13, from each kind's own split, taken in turn
        kinds3 = [sets[f"arithmetic{suffix}"][:14], sets[f"facts{suffix}"][:13], sets[f"logic{suffix}"][:13]]
        sets[f"mixed{suffix}"] = [rows[i] for i in range(14) for rows in kinds3 if i < len(rows)]
    tuning = {p["question"] for name, rows in sets.items() if not name.endswith("-heldout") for p in rows}
    held = {p["question"] for name, rows in sets.items() if name.endswith("-heldout") for p in rows}
    assert not tuning & held, "a problem is in both a tuning and a held-out set"
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rows in sets.items():
        (OUT / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"wrote {len(rows)} problems to {OUT / name}.jsonl")


if __name__ == "__main__":
    main()
