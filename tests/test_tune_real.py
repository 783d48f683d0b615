"""``thinkcli tune`` and the levels by model kind, through the real program on the real small models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

pytestmark = pytest.mark.model
TODAY = date.today().isoformat()


def thinkcli(home, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "THINKCLI_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "thinkcli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_tune_writes_a_profile_that_ask_uses_and_reset_forgets(own_levels):
    done = thinkcli(own_levels, "tune", "arithmetic", "--limit", "4", "--paths", "3", "--think-paths", "2",
                    "--budgets", "32", "--folds", "2", "--max-tokens", "48")
    assert done.returncode == 0, done.stderr
    assert "tokens to decode" in done.stderr and "wrote the profile of smollm2-135m" in done.stderr
    assert "tokens per problem (log)" in done.stdout and "held out (2-fold)" in done.stdout
    assert "4 problems are too few to tell these levels apart" in done.stdout
    shown = thinkcli(own_levels, "tune", "--show")
    assert shown.returncode == 0 and f"tuned on 4 problems on {TODAY}" in shown.stdout
    asked = thinkcli(own_levels, "ask", "--json", "-e", "high", "--max-tokens", "32", "What is 2 + 3?")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["levels"] == f"tuned on 4 problems on {TODAY}"
    again = thinkcli(own_levels, "tune", "arithmetic", "--limit", "4", "--paths", "3", "--think-paths", "2",
                     "--budgets", "32", "--folds", "2", "--max-tokens", "48", "--json", "--no-save")
    assert again.returncode == 0 and "tokens to decode" not in again.stderr  # everything was measured
    assert json.loads(again.stdout)["problems"] == 4
    reset = thinkcli(own_levels, "tune", "--reset")
    assert reset.returncode == 0 and "forgot the profile" in reset.stderr
    shown = thinkcli(own_levels, "tune", "--show", "--json")
    levels = json.loads(shown.stdout)["levels"]
    assert levels["high"]["origin"] == "built-in for models without native thinking"


def test_the_small_model_answers_directly_and_greedily_at_none(own_levels):
    docs = [json.loads(thinkcli(own_levels, "ask", "--json", "--no-log", "-e", "none", "--seed", seed,
                                "--max-tokens", "32", "What is 12 + 7?").stdout) for seed in ("1", "2")]
    assert docs[0]["levels"] == "built-in for models without native thinking"
    assert docs[0]["reasoning"] == "" and docs[0]["stats"]["thinking_tokens"] == 0
    assert docs[0]["answer"] == docs[1]["answer"]  # greedy: the seed changes nothing


def test_a_base_model_without_a_template_gets_the_direct_levels(isolated_home, gemma_path):
    shown = thinkcli(isolated_home, "tune", "--show", "--json", "-m", str(gemma_path))
    assert shown.returncode == 0, shown.stderr
    levels = json.loads(shown.stdout)["levels"]
    assert levels["none"]["temperature"] == 0.0 and levels["high"]["think_budget"] == 0
    assert levels["high"]["origin"] == "built-in for models without native thinking"
