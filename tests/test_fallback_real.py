"""Models without a chat template, as a user runs them: the real program on real files.

Gemma 3 270M base (no template, Gemma turn markers it was never tuned on) and copies of
the small model with its template removed (its ChatML tokens kept, or typed as text).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.model
QUESTION = "What is 12 + 7?"
CHATML_NOTE = "has no chat template; using ChatML (detected from its vocabulary)"
COMPLETION_NOTE = "has no chat template; using a plain completion prompt"


def thinkcli(home, *args: str, llama: bool = True) -> subprocess.CompletedProcess:
    """The program; with ``llama=False`` it fails if llama.cpp was imported."""
    check = "" if llama else "\nassert 'llama_cpp' not in sys.modules, 'llama.cpp was imported'"
    code = f"import sys\nfrom thinkcli.cli import main\ncode = main(sys.argv[1:]){check}\nsys.exit(code)"
    env = {**os.environ, "THINKCLI_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=240,
                          env=env, stdin=subprocess.DEVNULL)


def preview(home, model, *flags: str) -> tuple[dict, str]:
    done = thinkcli(home, "ask", "--print-prompt", "--json", "-m", str(model), *flags, QUESTION, llama=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_a_chatml_vocabulary_gets_chatml(isolated_home, untemplated_paths):
    doc, err = preview(isolated_home, untemplated_paths["chatml"], "-e", "none")
    assert doc["template"] == "chatml (detected)"
    assert doc["prompt"] == f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
    assert err.count(CHATML_NOTE) == 1


@pytest.mark.parametrize("effort", ["none", "low"])
def test_a_vocabulary_without_chatml_tokens_never_gets_chatml_markers(isolated_home, untemplated_paths, effort):
    doc, err = preview(isolated_home, untemplated_paths["plain"], "-e", effort)
    assert doc["template"] == "completion (detected)" and doc["format"] == "stepwise"
    assert "<|im_start|>" not in doc["prompt"] and "<|im_end|>" not in doc["prompt"]
    assert doc["prompt"].startswith(f"Question: {QUESTION}\nAnswer:")
    assert "its vocabulary has no turn markers" in err


def test_gemma_base_gets_a_completion_prompt_with_stepwise_thinking(isolated_home, gemma_path):
    doc, _ = preview(isolated_home, gemma_path, "-e", "low")  # a base model's own levels answer directly
    assert doc["prompt"] == f"<bos>Question: {QUESTION}\nAnswer:" and doc["starts_in_thinking"] is False
    doc, err = preview(isolated_home, gemma_path, "-e", "low", "--think-budget", "256")
    assert doc == {"prompt": f"<bos>Question: {QUESTION}\nAnswer: Let's think step by step.\n",
                   "format": "stepwise", "starts_in_thinking": True, "template": "completion (detected)"}
    assert "<start_of_turn>" not in doc["prompt"]
    assert err.count(COMPLETION_NOTE) == 1 and "the Gemma turn format" in err


@pytest.mark.parametrize("flags", [
    ("-e", "none", "--max-tokens", "24"),
    ("-e", "low", "--think-budget", "32", "--max-tokens", "24"),
], ids=["no-thinking", "stepwise"])
def test_ask_on_gemma_base_answers_in_bounded_tokens(isolated_home, gemma_path, flags):
    done = thinkcli(isolated_home, "ask", "--json", "--no-log", "--seed", "1", "-m", str(gemma_path), *flags,
                    QUESTION)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    sample = doc["samples"][0]
    assert doc["answer"].strip() and "\n" not in doc["answer"].strip()  # the line after "Answer:"
    assert sample["answer_tokens"] <= 24 and sample["thinking_tokens"] <= 32
    assert done.stderr.count(COMPLETION_NOTE) == 1


def test_ask_on_the_small_model_without_its_template(isolated_home, untemplated_paths):
    done = thinkcli(isolated_home, "ask", "--json", "--no-log", "--seed", "1", "-e", "none", "--max-tokens", "24",
                    "-m", str(untemplated_paths["chatml"]), QUESTION)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"].strip() and done.stderr.count(CHATML_NOTE) == 1


def test_batch_on_gemma_base_says_which_prompt_once(isolated_home, gemma_path, tmp_path):
    problems = tmp_path / "q.txt"
    problems.write_text("What is 2 + 2?\nWhat is 3 + 3?\n")
    done = thinkcli(isolated_home, "batch", str(problems), "-m", str(gemma_path), "-e", "none", "--max-tokens", "16",
                    "--no-log", "-o", str(tmp_path / "out.jsonl"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(COMPLETION_NOTE) == 1
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["paths"][0]["answer_tokens"] <= 16 for r in records)
