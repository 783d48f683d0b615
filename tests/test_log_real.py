"""The run log as a user meets it: the real program on the real small model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pexpect
import pytest

pytestmark = pytest.mark.model


def thinkcli(home, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thinkcli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "THINKCLI_HOME": str(home)}, stdin=subprocess.DEVNULL)


def ask_json(home, *args: str) -> dict:
    done = thinkcli(home, "ask", "--json", "-e", "low", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def logged(home) -> list[dict]:
    done = thinkcli(home, "log", "--json", "-n", "100")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_trace_unfolds_the_last_run_and_an_earlier_one(home_with_model):
    first = ask_json(home_with_model, "--seed", "1", "What is 12 + 7?")
    second = ask_json(home_with_model, "--seed", "2", "Name a prime number larger than 10.")
    assert first["reasoning"].strip() and second["reasoning"].strip() and first["reasoning"] != second["reasoning"]
    runs = logged(home_with_model)
    assert [r["question"] for r in runs] == ["Name a prime number larger than 10.", "What is 12 + 7?"]
    assert runs[0]["reasoning"] == second["reasoning"] and runs[0]["seed"] == 2

    last = thinkcli(home_with_model, "trace")
    assert last.returncode == 0, last.stderr
    assert last.stdout.strip() == second["reasoning"].strip() and "\x1b[" not in last.stdout
    earlier = thinkcli(home_with_model, "trace", str(runs[1]["id"]))
    assert earlier.returncode == 0 and earlier.stdout.strip() == first["reasoning"].strip()

    found = thinkcli(home_with_model, "log", "-q", "prime")
    assert found.returncode == 0 and "Name a prime number" in found.stdout and "12 + 7" not in found.stdout


def test_no_log_leaves_the_store_unchanged(home_with_model):
    ask_json(home_with_model, "--seed", "1", "What is 12 + 7?")
    store = home_with_model / "thinkcli.db"
    before = store.read_bytes()
    done = thinkcli(home_with_model, "ask", "--no-log", "-e", "low", "--seed", "1", "What is 2 + 2?")
    assert done.returncode == 0 and done.stdout.strip()
    assert store.read_bytes() == before
    assert [r["question"] for r in logged(home_with_model)] == ["What is 12 + 7?"]


def test_a_run_stopped_by_ctrl_c_is_recorded_as_interrupted(home_with_model):
    env = {**os.environ, "THINKCLI_HOME": str(home_with_model), "TERM": "xterm-256color"}
    child = pexpect.spawn(sys.executable, ["-m", "thinkcli", "ask", "--seed", "1", "--think-budget", "4000",
                                           "--min-think", "3000", "Write a long essay about rivers."],
                          env=env, dimensions=(40, 100), encoding="utf-8", timeout=240)
    child.expect("Thinking")
    child.expect(r" · [1-9][\d,]*/[\d,]+ tokens")  # some reasoning has arrived
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    [run] = logged(home_with_model)
    assert run["interrupted"] is True and run["question"] == "Write a long essay about rivers."
    assert run["reasoning"].strip() and run["samples"][0]["think_end"] == "interrupted"
    shown = thinkcli(home_with_model, "log")
    assert "(interrupted)" in shown.stdout


def test_two_asks_at_once_are_both_recorded(home_with_model):
    env = {**os.environ, "THINKCLI_HOME": str(home_with_model)}
    procs = [subprocess.Popen([sys.executable, "-m", "thinkcli", "ask", "-e", "none", "--max-tokens", "24",
                               "--seed", str(i), f"Say the number {i}."], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (1, 2)]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert "warning" not in err
    assert sorted(r["question"] for r in logged(home_with_model)) == ["Say the number 1.", "Say the number 2."]


@pytest.mark.parametrize("damage", ["garbage", "a directory"])
def test_a_store_made_unreadable_is_a_one_line_error(home_with_model, damage):
    ask_json(home_with_model, "--seed", "1", "What is 12 + 7?")
    store = home_with_model / "thinkcli.db"
    for extra in home_with_model.glob("thinkcli.db*"):
        extra.unlink()
    if damage == "garbage":
        store.write_bytes(os.urandom(8192))
    else:
        store.mkdir()
    for args in (["log"], ["trace"]):
        done = thinkcli(home_with_model, *args)
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("thinkcli: error: ") and str(store) in done.stderr
    asked = thinkcli(home_with_model, "ask", "-e", "none", "--max-tokens", "16", "--seed", "1", "Hi")
    assert asked.returncode == 0 and asked.stdout.strip()
    assert asked.stderr.splitlines()[-1].startswith("thinkcli: warning: could not record the run: ")


def test_on_a_terminal_the_folded_line_hints_and_trace_is_drawn_like_the_live_one(home_with_model):
    from test_terminal import run_to_end, screen_of, spawn

    child = spawn(home_with_model, "ask", "--seed", "1", "-e", "low", "What is 12 + 7?")
    lines = screen_of(run_to_end(child))
    assert child.exitstatus == 0
    [folded] = [line for line in lines if "Thought for" in line]
    assert folded.endswith("· thinkcli trace")
    [run] = logged(home_with_model)
    child = spawn(home_with_model, "trace")
    raw = run_to_end(child)
    assert child.exitstatus == 0 and "\x1b[2m" in raw  # dim, as the live trace
    screen = "\n".join(screen_of(raw))
    assert f"run {run['id']} · What is 12 + 7?" in screen
    first = next(line.strip() for line in run["reasoning"].splitlines() if line.strip())
    assert first[:40] in screen
