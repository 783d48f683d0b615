"""ask, chat and batch against real OpenAI-compatible servers on loopback.

llama.cpp's own llama-server (4 slots, continuous batching) and llama-cpp-python's
server serve the same small model; the same commands run against each and against
the local engine, and their output has the same shape. Where no llama-server binary
is found (``.ci/llama-server`` builds one; CI sets THINKCLI_LLAMA_SERVER) its tests
are skipped with the reason, except in CI, where a missing binary fails them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from llama_server import BINARY_ENV, find_llama_server, llama_cpp_server, llama_server

pytestmark = pytest.mark.model
QUESTION = "What is 12 + 7?"
KEY = "sk-test-real-5f3a9c"


@pytest.fixture(scope="module")
def llama_cpp(model_path):
    """llama.cpp's llama-server with 4 slots."""
    binary = find_llama_server()
    if binary is None:
        pytest.skip(f"no llama-server binary (.ci/llama-server builds one; or set {BINARY_ENV})")
    assert binary.is_file(), f"{BINARY_ENV}={binary} does not exist"
    with llama_cpp_server(model_path, binary=binary) as url:
        yield url


@pytest.fixture(scope="module", params=["llama-server", "llama-cpp-python"])
def server(request, model_path):
    if request.param == "llama-server":
        yield request.getfixturevalue("llama_cpp")
        return
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


# -- llama.cpp's llama-server in particular -------------------------------------------------


@pytest.mark.parametrize("seed", ["1", "2", "3"])
def test_thinking_answers_come_back_from_llama_server(llama_cpp, home_with_model, seed):
    # The model ends its turn while thinking; the close is forced and an end right after it is
    # refused. llama-server has no min_tokens: the next token comes alone, with every end banned.
    done = thinkcli(home_with_model, "ask", "--json", "--seed", seed, "-e", "low", "--base-url", llama_cpp, QUESTION)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["answer"].strip(), doc["samples"]
    assert doc["samples"][0]["think_end"] in ("stop", "budget")


def test_llama_server_log_probabilities_weigh_the_vote(llama_cpp, home_with_model):
    doc = ask_json(home_with_model, "-e", "none", "--samples", "3", "--max-tokens", "24", "--base-url", llama_cpp)
    assert doc["vote_weights"] == "confidence"
    confidences = [s["confidence"] for s in doc["samples"]]
    assert all(c > 1.0 for c in confidences) and len(set(confidences)) > 1  # DeepConf, not the constant


def test_llama_server_counts_budgets_in_its_own_tokens_and_reuses_its_cache(llama_cpp, home_with_model):
    doc = ask_json(home_with_model, "-e", "low", "--think-budget", "24", "--max-tokens", "32", "--base-url", llama_cpp)
    sample = doc["samples"][0]
    assert sample["thinking_tokens"] <= 24 + 16  # the budget, then the wrap-up and the close tag
    assert sample["answer_tokens"] <= 32
    # The forced close continues the path in a new request; the server takes its prefix from the cache.
    if sample["think_end"] == "budget":
        assert doc["stats"]["cached_tokens"] >= doc["stats"]["prompt_tokens"]


def test_batch_parallel_over_llama_server_slots(llama_cpp, home_with_model, tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps({"id": i, "question": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
                                for i in range(1, 7)))
    out = tmp_path / "out.jsonl"
    done = thinkcli(home_with_model, "batch", str(problems), "-o", str(out), "-e", "none", "--max-tokens", "24",
                    "--parallel", "4", "--seed", "1", "--base-url", llama_cpp)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == ["1", "2", "3", "4", "5", "6"]
    assert all(r["answer"].strip() and "error" not in r for r in records)
