"""Selection and the two-stage format on the real small model, through the real program."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.model
HANA = "Hana has 9 marbles and gets 8 more. How many marbles does Hana have now?"


def ask_json(home, *args: str) -> dict:
    env = {**os.environ, "THINKCLI_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "thinkcli", "ask", "--json", *args],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_stepwise_thinks_then_answers_one_line(home_with_model):
    doc = ask_json(home_with_model, "--reasoning-format", "stepwise", "--seed", "7", "--think-budget", "48", HANA)
    sample = doc["samples"][0]
    assert sample["reasoning"] and sample["thinking_tokens"] <= 48
    assert sample["think_end"] in ("stop", "budget") and sample["answer_end"] == "stop"
    assert doc["answer"] and "\n" not in doc["answer"]
    assert "<think>" not in doc["reasoning"] + doc["answer"]


def test_a_vote_reports_every_paths_confidence_and_ballot(home_with_model):
    doc = ask_json(home_with_model, "--reasoning-format", "stepwise", "--seed", "3", "--samples", "3",
                   "--think-budget", "32", "--max-tokens", "24", HANA)
    samples = doc["samples"]
    assert len(samples) == 3 and all(s["voted"] is not None for s in samples)
    assert all(s["confidence"] > 0 for s in samples)
    assert all((s["why_not"] is None) == s["voted"] for s in samples)
    assert samples[doc["chosen"]]["voted"]
    assert all(s["answer_end"] == "stop" for s in samples)  # one line: never cut by --max-tokens 24
