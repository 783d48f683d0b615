"""`thinkcli ask` as a user runs it: the real program on the real small model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.model
QUESTION = "What is 12 + 7?"


def thinkcli(*args: str, stdin: str | None = None, home=None, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "THINKCLI_HOME": str(home)} if home else dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "thinkcli", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, env=env,
    )


def ask_json(home, *args: str) -> dict:
    done = thinkcli("ask", "--json", *args, home=home)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_prompted_thinking_gives_reasoning_and_answer(home_with_model):
    doc = ask_json(home_with_model, "--seed", "1", "-e", "low", QUESTION)
    assert doc["model"] == "smollm2-135m" and doc["effort"] == "low"
    assert doc["reasoning"].strip() and doc["answer"].strip()
    stats = doc["stats"]
    assert stats["thinking_tokens"] > 0 and stats["answer_tokens"] > 0
    assert stats["prompt_eval_tokens"] == stats["prompt_tokens"] > 0
    assert stats["decode_tok_per_s"] > 0 and 0 < stats["ttft_s"] <= stats["wall_s"]


def test_piped_answer_is_plain_text(home_with_model):
    done = thinkcli("ask", "--seed", "2", "-e", "low", stdin=QUESTION, home=home_with_model)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and "\x1b[" not in done.stdout


def test_thinking_budget_is_enforced(home_with_model):
    doc = ask_json(home_with_model, "--seed", "3", "--samples", "3", "--think-budget", "48",
                   "--temperature", "1.0", "Explain in detail why the sky is blue.")
    assert len(doc["samples"]) == 3
    for sample in doc["samples"]:
        assert sample["thinking_tokens"] <= 48
        assert sample["think_end"] in ("stop", "budget")
    budgeted = [s for s in doc["samples"] if s["think_end"] == "budget"]
    for sample in budgeted:
        assert sample["thinking_tokens"] == 48 and "I have to give my final answer now" in sample["reasoning"]


def test_min_think_keeps_the_model_thinking(home_with_model):
    doc = ask_json(home_with_model, "--seed", "4", "--min-think", "96", "--think-budget", "400", QUESTION)
    sample = doc["samples"][0]
    assert sample["thinking_tokens"] >= 96
    assert "Wait," in sample["reasoning"]  # the model tried to stop early, at least once


def test_samples_share_one_prompt_evaluation(home_with_model):
    doc = ask_json(home_with_model, "--seed", "5", "--samples", "4", "--think-budget", "64", QUESTION)
    assert len(doc["samples"]) == 4
    assert doc["stats"]["prompt_eval_tokens"] == doc["stats"]["prompt_tokens"]
    assert 0 <= doc["chosen"] < 4
    assert doc["answer"] == doc["samples"][doc["chosen"]]["answer"]
    voters = [s for s in doc["samples"] if s["voted"]]
    assert voters and all(s["why_not"] is None for s in voters)
    assert all(s["why_not"] for s in doc["samples"] if not s["voted"])
    assert all(s["confidence"] > 0 for s in doc["samples"])
    if any(s["extracted"] for s in voters):
        assert doc["votes"] and abs(sum(doc["votes"].values()) - sum(
            s["confidence"] for s in voters if s["extracted"])) < 1e-3


def test_same_seed_same_result(home_with_model):
    args = ("--seed", "6", "--samples", "2", "--think-budget", "64", QUESTION)
    first, second = ask_json(home_with_model, *args), ask_json(home_with_model, *args)
    assert first["samples"] == second["samples"]
    assert first["answer"] == second["answer"]


def test_no_think(home_with_model):
    doc = ask_json(home_with_model, "--seed", "7", "-e", "none", QUESTION)
    assert doc["reasoning"] == "" and doc["answer"].strip()
    assert doc["samples"][0]["think_end"] == "none" and doc["stats"]["thinking_tokens"] == 0


def test_prompt_longer_than_context(home_with_model):
    done = thinkcli("ask", "--ctx", "128", home=home_with_model, stdin="word " * 400)
    assert done.returncode == 1
    assert "context" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_first_run_pulls_the_default_model(isolated_home, model_path):
    """A fresh home and no model: ask pulls smollm2-135m itself, then answers."""
    done = thinkcli("ask", "--seed", "8", "-e", "none", QUESTION, home=isolated_home)
    assert done.returncode == 0, done.stderr
    assert (isolated_home / "models" / "smollm2-135m.gguf").stat().st_size == 98_362_432
    assert "Pulling smollm2-135m" in done.stderr and done.stdout.strip()


def test_closed_stdout_pipe_ends_quietly(home_with_model):
    cmd = (f"{sys.executable} -m thinkcli ask --seed 9 -e none --max-tokens 200 "
           "'List twenty fruits, one per line.' | head -c 1; echo \" ${PIPESTATUS[0]}\"")
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "THINKCLI_HOME": str(home_with_model)})
    assert done.stdout.strip().endswith(" 0")
    assert "Traceback" not in done.stderr and "Broken pipe" not in done.stderr
