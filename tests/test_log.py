"""Recording runs and reading them back (``log``, ``trace``) behind the scripted engine."""

from __future__ import annotations

import io
import json
import os
import sys

import pytest

import thinkcli.cli as cli
import thinkcli.load
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.env import Environment
from thinkcli.runlog.store import RunStore

THOUGHT = ["Let", " me", " add", " them.", "</think>", "The", " answer", " is", " 19.", EOG]
# A reasoning model's template (it opens the thinking itself), so the levels think.
TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] <think>\n"
OTHER = ["Primes", " are", " odd.", "</think>", "Seventeen", " is", " prime.", EOG]


class Outcome:
    def __init__(self, code: int, out: str, err: str, engine: FakeEngine):
        self.code, self.out, self.err, self.engine = code, out, err, engine


def run_cli(args, *, monkeypatch, scripts=(THOUGHT,), tty: bool = False, stdin: bytes = b"", stdin_tty: bool = True,
            env: dict | None = None) -> Outcome:
    engine = FakeEngine(list(scripts), chat_template=TEMPLATE)
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(stdin=io.BytesIO(stdin), stdout=out, stderr=err, stdin_isatty=stdin_tty,
                              stdout_isatty=tty, vars={**os.environ, **(env or {})})
    monkeypatch.setattr(cli, "_environment", lambda: environment)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(thinkcli.load, "open_engine", lambda *a, **k: engine)
    code = cli.main(list(args))
    return Outcome(code, out.getvalue(), err.getvalue(), engine)


def db(home):
    return home / "thinkcli.db"


def records(home) -> list[dict]:
    with RunStore(db(home), create=False) as store:
        return store.recent(100, full=True)


def test_an_ask_is_recorded_after_its_answer(monkeypatch, isolated_home):
    r = run_cli(["ask", "--seed", "3", "--system", "Be brief.", "What is 12+7?"], monkeypatch=monkeypatch)
    assert r.code == 0 and r.out == "The answer is 19.\n" and r.err == ""
    [rec] = records(isolated_home)
    assert rec["command"] == "ask" and rec["question"] == "What is 12+7?" and rec["system"] == "Be brief."
    assert rec["answer"] == "The answer is 19." and rec["reasoning"] == "Let me add them."
    assert rec["seed"] == 3 and rec["plan"]["seed"] == 3 and rec["plan"]["budget"]["think"] > 0
    assert rec["model"] == "fake" and rec["effort"] == "medium" and rec["interrupted"] is False
    json_doc = json.loads(run_cli(["ask", "--json", "--seed", "3", "--system", "Be brief.", "What is 12+7?"],
                                  monkeypatch=monkeypatch).out)
    second = records(isolated_home)[0]
    assert {k: second[k] for k in json_doc if k != "stats"} == {k: v for k, v in json_doc.items() if k != "stats"}


def test_trace_prints_the_last_run_or_one_by_id(monkeypatch, isolated_home):
    run_cli(["ask", "What is 12+7?"], monkeypatch=monkeypatch)
    run_cli(["ask", "Name a prime."], scripts=(OTHER,), monkeypatch=monkeypatch)
    first, second = sorted(r["id"] for r in records(isolated_home))
    r = run_cli(["trace"], monkeypatch=monkeypatch)
    assert r.code == 0 and r.out == "Primes are odd.\n"
    r = run_cli(["trace", str(first)], monkeypatch=monkeypatch)
    assert r.code == 0 and r.out == "Let me add them.\n"


def test_trace_heads_every_path_and_marks_the_chosen_one(monkeypatch, isolated_home):
    paths = [["Add.", "</think>", "It is 19.", EOG], ["Count.", "</think>", "It is 19.", EOG]]
    run_cli(["ask", "--samples", "2", "-t", "0.7", "q"], scripts=paths, monkeypatch=monkeypatch)
    out = run_cli(["trace"], monkeypatch=monkeypatch).out
    lines = out.splitlines()
    assert lines[0].startswith("── path 1 · 19 · confidence") and lines[1] == "Add."
    assert lines[3].startswith("── path 2 · 19 · confidence") and lines[4] == "Count."
    assert sum("· chosen" in line for line in lines) == 1
    assert run_cli(["trace", "--path", "2"], monkeypatch=monkeypatch).out == "Count.\n"
    r = run_cli(["trace", "--path", "3"], monkeypatch=monkeypatch)
    assert r.code == 2 and "explored 2 path(s)" in r.err


def test_log_lists_newest_first_searches_and_prints_json(monkeypatch, isolated_home):
    run_cli(["ask", "What is 12+7?"], monkeypatch=monkeypatch)
    run_cli(["ask", "Name a prime."], scripts=(OTHER,), monkeypatch=monkeypatch)
    listing = run_cli(["log"], monkeypatch=monkeypatch).out.splitlines()
    assert listing[0].split()[:3] == ["id", "time", "cmd"]
    assert "Name a prime." in listing[1] and "Seventeen is prime." in listing[1] and "What is 12+7?" in listing[2]
    assert len(run_cli(["log", "-n", "1"], monkeypatch=monkeypatch).out.splitlines()) == 2
    found = run_cli(["log", "-q", "12+7"], monkeypatch=monkeypatch).out
    assert "What is 12+7?" in found and "prime" not in found
    none = run_cli(["log", "-q", "nothing like it"], monkeypatch=monkeypatch)
    assert none.code == 0 and none.out == "" and "no recorded run matches" in none.err
    docs = json.loads(run_cli(["log", "--json"], monkeypatch=monkeypatch).out)
    assert [d["question"] for d in docs] == ["Name a prime.", "What is 12+7?"]
    assert docs[1]["samples"][0]["reasoning"] == "Let me add them." and "stats" in docs[1]


def test_log_id_shows_one_run_whole(monkeypatch, isolated_home):
    run_cli(["ask", "What is 12+7?"], monkeypatch=monkeypatch)
    [rec] = records(isolated_home)
    r = run_cli(["log", str(rec["id"])], monkeypatch=monkeypatch)
    lines = r.out.splitlines()
    assert lines[0].startswith(f"run {rec['id']} · ") and "ask · fake · effort medium" in lines[0]
    assert "What is 12+7?" in lines and f"▸ Thought · {rec['stats']['thinking_tokens']} tokens · thinkcli trace {rec['id']}" in lines
    assert "The answer is 19." in lines and any(line.startswith("prompt ") for line in lines)
    doc = json.loads(run_cli(["log", "--json", str(rec["id"])], monkeypatch=monkeypatch).out)
    assert doc == rec


@pytest.mark.parametrize("args", [["log", "99"], ["trace", "99"]])
def test_an_unknown_id_is_one_line_and_status_1(monkeypatch, isolated_home, args):
    run_cli(["ask", "q"], monkeypatch=monkeypatch)
    r = run_cli(args, monkeypatch=monkeypatch)
    assert r.code == 1 and r.err.count("\n") == 1 and "no run 99" in r.err


def test_an_empty_log(monkeypatch, isolated_home):
    r = run_cli(["log"], monkeypatch=monkeypatch)
    assert r.code == 0 and r.out == "" and "no runs recorded yet" in r.err
    r = run_cli(["trace"], monkeypatch=monkeypatch)
    assert r.code == 1 and "no runs recorded yet" in r.err
    assert not db(isolated_home).exists()


def test_no_log_and_log_false_record_nothing(monkeypatch, isolated_home):
    run_cli(["ask", "first"], monkeypatch=monkeypatch)
    before = db(isolated_home).read_bytes()
    assert run_cli(["ask", "--no-log", "q"], monkeypatch=monkeypatch).code == 0
    assert run_cli(["ask", "q"], env={"THINKCLI_LOG": "false"}, monkeypatch=monkeypatch).code == 0
    assert [r["question"] for r in records(isolated_home)] == ["first"]
    assert db(isolated_home).read_bytes() == before


def test_a_failed_write_is_a_warning_not_a_lost_answer(monkeypatch, isolated_home):
    db(isolated_home).mkdir(parents=True)  # a directory where the store should be
    r = run_cli(["ask", "q"], monkeypatch=monkeypatch)
    assert r.code == 0 and r.out == "The answer is 19.\n"
    [line] = r.err.splitlines()
    assert line.startswith("thinkcli: warning: could not record the run: ") and str(db(isolated_home)) in line


def test_a_damaged_store_is_a_one_line_error_for_log_and_trace(monkeypatch, isolated_home):
    isolated_home.mkdir(parents=True)
    db(isolated_home).write_bytes(b"not a database\n" * 300)
    for args in (["log"], ["trace"], ["log", "--clear", "--yes"]):
        r = run_cli(args, monkeypatch=monkeypatch)
        assert r.code == 1 and r.err.count("\n") == 1 and str(db(isolated_home)) in r.err, args
        assert "Traceback" not in r.err


def test_clear_asks_on_a_terminal_and_needs_yes_otherwise(monkeypatch, isolated_home):
    run_cli(["ask", "q"], monkeypatch=monkeypatch)
    r = run_cli(["log", "--clear"], stdin_tty=False, monkeypatch=monkeypatch)
    assert r.code == 2 and "--yes" in r.err and len(records(isolated_home)) == 1
    r = run_cli(["log", "--clear"], stdin=b"n\n", monkeypatch=monkeypatch)
    assert r.code == 0 and "Delete all 1 recorded run(s)" in r.err and len(records(isolated_home)) == 1
    r = run_cli(["log", "--clear"], stdin=b"y\n", monkeypatch=monkeypatch)
    assert r.code == 0 and records(isolated_home) == []
    run_cli(["ask", "q"], monkeypatch=monkeypatch)
    assert run_cli(["log", "--clear", "--yes"], stdin_tty=False, monkeypatch=monkeypatch).code == 0
    assert records(isolated_home) == []


def test_the_folded_line_hints_at_trace_three_times(monkeypatch, isolated_home):
    hinted = []
    for _ in range(4):
        r = run_cli(["ask", "q"], tty=True, monkeypatch=monkeypatch)
        folded = [line for line in r.out.splitlines() if "Thought for" in line]
        assert len(folded) == 1
        hinted.append("· thinkcli trace" in folded[0])
    assert hinted == [True, True, True, False]
    r = run_cli(["ask", "q"], tty=True, monkeypatch=monkeypatch, env={"THINKCLI_HOME": str(isolated_home / "other")})
    assert "thinkcli trace" in r.out
    r = run_cli(["ask", "--no-log", "q"], tty=True, monkeypatch=monkeypatch,
                env={"THINKCLI_HOME": str(isolated_home / "third")})
    assert "thinkcli trace" not in r.out


def test_each_batch_problem_is_recorded_after_its_line(monkeypatch, isolated_home):
    problems = b'{"id": "a", "question": "What is 12+7?"}\n{"id": "b", "question": "Name a prime.", "system": "Be brief."}\n'
    r = run_cli(["batch", "-", "--format", "jsonl", "--parallel", "1"], stdin=problems, stdin_tty=False, monkeypatch=monkeypatch)
    assert r.code == 0 and len(r.out.splitlines()) == 2
    runs = records(isolated_home)
    assert [(x["command"], x["question"], x["system"]) for x in runs] == [
        ("batch", "Name a prime.", "Be brief."), ("batch", "What is 12+7?", "")]
    assert runs[0]["answer"] == "The answer is 19." and runs[0]["reasoning"] == "Let me add them."
    assert all(x["plan"]["effort"] == "medium" and x["plan"]["budget"]["think"] > 0 for x in runs)
    run_cli(["batch", "-", "--format", "jsonl", "--no-log"], stdin=problems, stdin_tty=False, monkeypatch=monkeypatch)
    assert len(records(isolated_home)) == 2
