"""`thinkcli batch`: behind the scripted engine, then as a user runs it on the real small model."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import thinkcli.cli as cli
import thinkcli.load
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.env import Environment

ANSWERS = [["Let", " me", " see", "</think>", "The", " answer", " is", " 4."]]


def problems_file(tmp_path, rows, name="p.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def run_batch(args, monkeypatch, *, scripts=ANSWERS, stdin=b"", engine=None, **engine_kw):
    engine = engine or FakeEngine(list(scripts), **engine_kw)
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.BytesIO(stdin), stdout=out, stderr=err, stdin_isatty=not stdin,
                      stdout_isatty=False, vars=dict(os.environ))
    monkeypatch.setattr(cli, "_environment", lambda: env)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(thinkcli.load, "open_engine", lambda *a, **k: engine)
    code = cli.main(["batch", *args])
    return code, out.getvalue(), err.getvalue(), engine


def test_records_come_out_in_input_order_and_are_graded(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"id": "a", "question": "2+2?", "answer": 4},
                                    {"id": "b", "question": "2+3?", "answer": "5"}])
    code, out, err, engine = run_batch([str(path), "-e", "low"], monkeypatch)
    recs = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["id"] for r in recs] == ["a", "b"]
    assert [r["correct"] for r in recs] == [True, False] and recs[0]["effort"] == "low"
    assert recs[0]["stats"]["generated_tokens"] > 0 and recs[0]["paths"][0]["think_end"] == "stop"
    assert len(engine.prompts) == 2 and "2+3?" in engine.prompts[1]


def test_text_from_stdin_with_a_limit(monkeypatch):
    code, out, _, engine = run_batch(["-", "--limit", "2", "-e", "none"], monkeypatch,
                                     stdin=b"first\nsecond\nthird\n")
    assert code == 0 and [json.loads(x)["id"] for x in out.splitlines()] == ["1", "2"]
    assert len(engine.prompts) == 2


def test_a_problem_that_fails_gets_an_error_record_and_the_run_goes_on(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"id": "long", "question": "x " * 3000},
                                    {"id": "ok", "question": "2+2?"},
                                    {"id": "bad-effort", "question": "q", "effort": "hgih"}])
    code, out, err, _ = run_batch([str(path)], monkeypatch, n_ctx=1024)
    recs = {json.loads(line)["id"]: json.loads(line) for line in out.splitlines()}
    assert code == 1 and "2 problem(s) failed" in err
    assert "context" in recs["long"]["error"] and "answer" in recs["ok"]
    assert "hgih" in recs["bad-effort"]["error"]


def test_per_problem_system_and_effort(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"question": "q1", "system": "Be terse.", "effort": "none"}])
    code, out, _, engine = run_batch([str(path), "-e", "low"], monkeypatch)
    assert code == 0 and "Be terse." in engine.prompts[0]
    assert json.loads(out)["effort"] == "none"


def test_resuming_skips_what_the_output_holds(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"id": i, "question": f"q{i}"} for i in range(3)])
    out_file = tmp_path / "out.jsonl"
    out_file.write_text(json.dumps({"id": "0", "effort": "low", "answer": "x"}) + "\n"
                        + json.dumps({"id": "1", "effort": "low", "error": "boom"}) + "\n")
    code, _, err, engine = run_batch([str(path), "-e", "low", "-o", str(out_file)], monkeypatch)
    assert code == 0 and "resuming: 1 of 3" in err
    ids = [json.loads(x)["id"] for x in out_file.read_text().splitlines()]
    assert ids == ["0", "1", "1", "2"] and len(engine.prompts) == 2
    code, _, _, engine = run_batch([str(path), "-e", "low", "-o", str(out_file), "--overwrite"], monkeypatch)
    assert len(out_file.read_text().splitlines()) == 3 and len(engine.prompts) == 3


def test_the_effort_sweep_prints_a_table_and_json(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"question": "2+2?", "answer": "4"}])
    out_file = tmp_path / "out.jsonl"
    code, out, _, _ = run_batch([str(path), "-e", "none,low", "-o", str(out_file), "--json"], monkeypatch)
    rows = json.loads(out)
    assert code == 0 and [r["effort"] for r in rows] == ["none", "low"] and rows[1]["accuracy"] == 1.0
    code, out, _, _ = run_batch([str(path), "-e", "none,low", "-o", str(out_file)], monkeypatch)
    assert "95% interval" in out and "tokens per problem" in out


@pytest.mark.parametrize("args, message", [
    (["-e", "hihg"], "unknown effort 'hihg' (did you mean 'high'?)"),
    (["--format", "csv"], "--format must be one of"),
    (["--plot", "curve.pdf"], "--plot writes .png or .svg files"),
])
def test_usage_errors(tmp_path, monkeypatch, args, message):
    path = problems_file(tmp_path, [{"question": "q"}])
    code, out, err, engine = run_batch([str(path), *args], monkeypatch)
    assert code == 2 and message in err
    assert engine.prompts == [] and out == ""  # refused before any work


def test_a_missing_file_and_an_empty_one(tmp_path, monkeypatch):
    code, _, err, _ = run_batch([str(tmp_path / "nope.jsonl")], monkeypatch)
    assert code == 1 and "no such file" in err
    empty = problems_file(tmp_path, ["not json"])
    code, _, err, _ = run_batch([str(empty)], monkeypatch)
    assert code == 2 and "line 1: not valid JSON" in err and "holds no problems" in err


# -- the real program on the real small model ------------------------------------


def run_thinkcli(*args, home, timeout=300, **kw):
    env = {**os.environ, "THINKCLI_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "thinkcli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL, **kw)


@pytest.mark.model
def test_a_file_is_solved_in_order_with_a_bad_line_skipped(home_with_model, tmp_path):
    path = problems_file(tmp_path, [{"id": "a", "question": "What is 12 + 7?", "answer": "19"},
                                    "{broken", {"id": "b", "question": "What is 3 + 4?", "answer": "7"}])
    done = run_thinkcli("batch", str(path), "-e", "none", "--max-tokens", "24", "--seed", "3", home=home_with_model)
    recs = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and "line 2: not valid JSON" in done.stderr
    assert [r["id"] for r in recs] == ["a", "b"] and all("correct" in r for r in recs)
    assert all(r["stats"]["generated_tokens"] > 0 for r in recs)


@pytest.mark.model
@pytest.mark.parametrize("parallel", ["1", "3"])
def test_an_interrupted_run_resumes_without_losing_or_repeating(home_with_model, tmp_path, parallel):
    rows = [{"id": f"q{i}", "question": f"Count from 1 to {40 + i}, one number per line."} for i in range(10)]
    path = problems_file(tmp_path, rows)
    out_file = tmp_path / "out.jsonl"
    args = ["batch", str(path), "-o", str(out_file), "-e", "none", "--max-tokens", "64", "--seed", "1",
            "--parallel", parallel]
    env = {**os.environ, "THINKCLI_HOME": str(home_with_model)}
    proc = subprocess.Popen([sys.executable, "-m", "thinkcli", *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (not out_file.exists() or out_file.read_text().count("\n") < 2):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    kept = [json.loads(x)["id"] for x in out_file.read_text().splitlines()]
    assert proc.returncode == 130 and "finished results are kept" in err
    assert 2 <= len(kept) < 10 and len(set(kept)) == len(kept)
    if parallel == "1":
        assert kept == [f"q{i}" for i in range(len(kept))]
    done = run_thinkcli(*args, home=home_with_model)
    ids = [json.loads(x)["id"] for x in out_file.read_text().splitlines()]
    assert done.returncode == 0 and sorted(ids) == sorted(f"q{i}" for i in range(10)) and len(ids) == 10
    assert f"resuming: {len(kept)} of 10 already done" in done.stderr


@pytest.mark.model
def test_the_effort_table_on_the_real_model(home_with_model, tmp_path):
    path = problems_file(tmp_path, [{"question": "What is 2 + 2?", "answer": "4"},
                                    {"question": "What is 5 + 5?", "answer": "10"}])
    out_file = tmp_path / "out.jsonl"
    done = run_thinkcli("batch", str(path), "-o", str(out_file), "-e", "none,low", "--think-budget", "32",
                    "--max-tokens", "24", "--seed", "2", home=home_with_model)
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header[:3] == ["effort", "accuracy", "95%"] and "tok/correct" in header
    assert [line.split()[0] for line in done.stdout.splitlines()[1:3]] == ["none", "low"]
    assert len(out_file.read_text().splitlines()) == 4


def test_parallel_and_one_by_one_write_the_same_records_in_order(tmp_path, monkeypatch):
    rows = [{"id": f"q{i}", "question": f"{i}+1?", "answer": "4"} for i in range(7)]
    rows[3] = {"id": "q3", "question": "x " * 10000}  # too long for the context: fails alone
    path = problems_file(tmp_path, rows)
    short = ["The", " answer", " is", " 4.", EOG]
    longer = ["Hmm", "</think>", "The", " answer", " is", " 4", " or", " so."]
    results = {}
    for k in ("1", "3"):
        code, out, err, engine = run_batch([str(path), "-e", "low", "--parallel", k], monkeypatch,
                                           scripts=[short, longer], n_ctx=4096)
        results[k] = [json.loads(line) for line in out.splitlines()]
        assert code == 1 and "1 problem(s) failed" in err
    assert [r["id"] for r in results["3"]] == [f"q{i}" for i in range(7)]
    strip = lambda recs: [{k: v for k, v in r.items() if k not in ("stats", "error")} for r in recs]
    assert strip(results["1"]) == strip(results["3"])
    assert all("context" in results[k][3]["error"] for k in results)


def test_parallel_runs_several_questions_in_one_batch(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"question": f"q{i}"} for i in range(5)])
    code, out, _, engine = run_batch([str(path), "-e", "none", "--parallel", "3"], monkeypatch)
    assert code == 0 and len(out.splitlines()) == 5
    assert len(engine.batches) == 1 and len(engine.prompts) == 5  # one start, four admitted
