"""ask, chat and batch against a real OpenAI-compatible server on loopback.

llama-cpp-python's own server serves the same small model; the same commands run
against it and against the local engine, and their output has the same shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from llama_server import llama_server

pytestmark = pytest.mark.model
QUESTION = "What is 12 + 7?"
KEY = "sk-test-real-5f3a9c"


@pytest.fixture(scope="module")
def server(model_path):
    with llama_server(model_path) as url:
        yield url


def thinkcli(home, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "THINKCLI_HOME": str(home), "OPENAI_API_KEY": KEY}
    return subprocess.run([sys.executable, "-m", "thinkcli", *args], input=stdin, capture_output=True, text=True,
                          timeout=300, env=env)


def ask_json(home, *args: str) -> dict:
    done = thinkcli(home, "ask", "--json", "--seed", "3", *args, QUESTION)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def shape(doc: dict) -> dict:
    """Keys, recursively (the first sample stands for all)."""
    if isinstance(doc, dict):
        return {k: shape(v) for k, v in doc.items() if k != "votes"}
    if isinstance(doc, list):
        return [shape(doc[0])] if doc and isinstance(doc[0], dict) else []
    return None


def test_ask_low_through_the_server_has_the_local_shape(server, home_with_model):
    remote = ask_json(home_with_model, "-e", "low", "--base-url", server)
    local = ask_json(home_with_model, "-e", "low")
    assert shape(remote) == shape(local)
    assert remote["backend"] == "openai" and local["backend"] == "llama"
    assert remote["model"] == "smollm2-135m" and remote["effort"] == "low"
    assert remote["reasoning"].strip() and remote["answer"].strip()
    stats = remote["stats"]
    assert 0 < stats["thinking_tokens"] <= 256 + 8  # the budget holds through the server
    assert stats["prompt_tokens"] > 0 and stats["answer_tokens"] > 0


def test_three_paths_vote_with_confidence(server, home_with_model):
    doc = ask_json(home_with_model, "-e", "low", "--samples", "3", "--base-url", server)
    assert len(doc["samples"]) == 3
    assert doc["vote_weights"] == "confidence"  # the server returns log-probabilities
    assert all(s["confidence"] != 1.0 for s in doc["samples"])
    assert 0 <= doc["chosen"] < 3


def test_a_two_turn_chat(server, home_with_model):
    done = thinkcli(home_with_model, "chat", "--base-url", server, "-e", "none", "--seed", "1", "--max-tokens", "40",
                    stdin="What is 2 + 3?\nAnd that times 4?\n")
    assert done.returncode == 0, done.stderr
    assert len([line for line in done.stdout.splitlines() if line.strip()]) >= 2
    assert "smollm2-135m" in done.stderr


def test_a_three_problem_batch_has_the_local_records(server, home_with_model, tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps({"id": i, "question": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
                                for i in (1, 2, 3)))
    records = {}
    for name, extra in (("remote", ["--base-url", server]), ("local", [])):
        out = tmp_path / f"{name}.jsonl"
        done = thinkcli(home_with_model, "batch", str(problems), "-o", str(out), "-e", "none", "--max-tokens", "40",
                        "--seed", "1", *extra)
        assert done.returncode == 0, done.stderr
        records[name] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records["remote"]] == ["1", "2", "3"]
    assert [set(r) for r in records["remote"]] == [set(r) for r in records["local"]]
    written = (tmp_path / "remote.jsonl").read_text() + "".join(
        p.read_text(errors="replace") for p in home_with_model.rglob("*") if p.is_file() and p.suffix != ".gguf")
    assert KEY not in written


def test_models_lists_what_the_server_serves(server, home_with_model):
    done = thinkcli(home_with_model, "models", "--base-url", server, "--json")
    assert done.returncode == 0, done.stderr
    assert [m["name"] for m in json.loads(done.stdout)] == ["smollm2-135m"]


def test_print_prompt_through_the_server_is_the_local_prompt(server, home_with_model):
    remote = thinkcli(home_with_model, "ask", "--print-prompt", "-e", "low", "--base-url", server, QUESTION)
    local = thinkcli(home_with_model, "ask", "--print-prompt", "-e", "low", QUESTION)
    assert remote.returncode == local.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout and QUESTION in remote.stdout
