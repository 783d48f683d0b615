"""A model without a chat template: its family's turn format, or a plain completion prompt?

Usage: ``python benchmarks/fallback.py [--think-budget N]``. For Gemma 3 270M base (no
template; ``<start_of_turn>`` in its vocabulary) and SmolLM2-135M-Instruct with its
template removed (ChatML tokens), runs ``thinkcli batch`` on 20 graded questions (10 word
problems from problems.jsonl, 10 one-line arithmetic and fact questions) greedily, once
with each prompt forced, without thinking and, with ``--think-budget``, thinking that
long. Prints per arm the answers thinkcli's grader counts right (``graded``), the answers
that state the expected one anywhere (``mentions``: fairer to a chat answer's prose),
tokens, and how long reading the vocabulary takes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from gguf_edit import without_template  # noqa: E402

from thinkcli import cli  # noqa: E402
from thinkcli.engine import families  # noqa: E402
from thinkcli.engine import ModelInfo  # noqa: E402
from thinkcli.load import model_store, with_fallback  # noqa: E402
from thinkcli.models.gguf import read_gguf  # noqa: E402
from thinkcli.models.vocab import marker_tokens  # noqa: E402

DIRECT = [
    ("What is 12 + 7?", "19"), ("What is 9 times 6?", "54"), ("What is 100 minus 37?", "63"),
    ("What is half of 50?", "25"), ("How many legs does a spider have?", "8"),
    ("How many days are in a week?", "7"), ("How many minutes are in an hour?", "60"),
    ("How many sides does a triangle have?", "3"), ("What is the capital of France?", "Paris"),
    ("Which planet is the largest in the solar system?", "Jupiter"),
]
PROBLEMS = Path(__file__).with_name("problems.jsonl")
MAX_ANSWER = 256  # room for a chat answer's final statement; a completion answer is one line


def problem_file(directory: Path) -> Path:
    rows = [json.loads(line) for line in PROBLEMS.read_text().splitlines()[:10]]
    rows += [{"id": f"direct-{i + 1:02d}", "question": q, "answer": a} for i, (q, a) in enumerate(DIRECT)]
    path = directory / "questions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def models(directory: Path) -> dict[str, Path]:
    """Gemma 3 270M base, and SmolLM2-135M-Instruct copied without its chat template."""
    store, err = model_store(os.environ), Console(stderr=True)
    found = {}
    for name in ("gemma3-270m", "smollm2-135m"):
        try:
            found[name] = store.resolve(name)
        except Exception:
            found[name] = store.pull(name, console=err)
    smol = without_template(found["smollm2-135m"], directory / "smollm2-135m-no-template.gguf")
    return {"gemma3-270m (base)": found["gemma3-270m"], "smollm2-135m (template removed)": smol}


def run_arm(model: Path, family: families.Family, questions: Path, out: Path, effort: list[str]) -> dict:
    """One ``thinkcli batch`` run with ``family`` forced as the fallback; accuracy and tokens."""
    forced = families.Fallback(family, "forced by the benchmark")
    chosen = families.choose
    families.choose = lambda *a, **k: forced
    try:
        args = ["batch", str(questions), "-m", str(model), "-o", str(out), "--overwrite", "--seed", "1",
                "-t", "0", "--max-tokens", str(MAX_ANSWER), "--no-log", *effort]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            started = time.perf_counter()
            code = cli.main(args)
            wall = time.perf_counter() - started
    finally:
        families.choose = chosen
    if code != 0:
        raise SystemExit(f"batch failed ({code}) for {model.name} with {family.name}")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    mentions = sum(bool(re.search(rf"(?<![\w.]){re.escape(r['expected'])}(?![\w]|\.\d)", r["answer"], re.IGNORECASE))
                   for r in records)
    answer = sum(p["answer_tokens"] for r in records for p in r["paths"])
    thinking = sum(p["thinking_tokens"] for r in records for p in r["paths"])
    return {"correct": sum(bool(r.get("correct")) for r in records), "mentions": mentions, "n": len(records),
            "answer_tokens": answer / len(records), "thinking_tokens": thinking / len(records), "wall_s": wall}


def vocabulary_timing(paths: list[Path]) -> None:
    for path in paths:
        best = min(_timed(lambda: marker_tokens(path, families.MARKERS)) for _ in range(5))
        print(f"reading turn markers from {path.name}: {best * 1000:.1f} ms")


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--think-budget", type=int, default=0, help="also run thinking this long (0: skip)")
    options = parser.parse_args()
    efforts = [("none", ["-e", "none"])]
    if options.think_budget:
        efforts.append((f"think {options.think_budget}", ["-e", "low", "--think-budget", str(options.think_budget)]))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        questions = problem_file(directory)
        found = models(directory)
        vocabulary_timing(list(found.values()))
        print(f"{'model':34} {'prompt':11} {'effort':10} {'graded':>7} {'mentions':>8} {'answer tok':>10} "
              f"{'think tok':>9} {'wall s':>7}")
        for label, path in found.items():
            markers = marker_tokens(path, families.MARKERS)
            family = next(f for f in families.FAMILIES if all(m in markers.found for m in f.markers))
            for effort, flags in efforts:
                for arm in (family, families.COMPLETION):
                    r = run_arm(path, arm, questions, directory / "out.jsonl", flags)
                    print(f"{label:34} {arm.name:11} {effort:10} {r['correct']:>4}/{r['n']:<2} "
                          f"{r['mentions']:>5}/{r['n']:<2} "
                          f"{r['answer_tokens']:>10.1f} {r['thinking_tokens']:>9.1f} {r['wall_s']:>7.1f}")
            info = with_fallback(ModelInfo(label, str(path), 0, 0, None), path, read_gguf(path))
            print(f"{'':34} thinkcli chooses: {info.fallback.family.name} ({info.fallback.why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
