"""The HTML pages: ``trace --html`` for a run, ``batch --report`` for a batch, behind the scripted engine."""

from __future__ import annotations

import io
import json
import os
import random
import re
import sys

import pytest

import thinkcli.cli as cli
import thinkcli.load
from test_batch import problems_file, run_batch
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.env import Environment
from thinkcli.render.html import SCRIPT, run_report
from thinkcli.render.path_html import CURVE_POINTS
from thinkcli.render.htmlkit import CSS, _hash, json_script, write_atomic
from thinkcli.runlog.store import RunStore

TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
INJECTED = "<script>window.__pwned=1</script>"
QUESTION = f"What is 12+7? {INJECTED} </script><b>bold</b>"
WORDS = "so the sum of twelve and seven is nineteen let me check again carefully".split()


class Outcome:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


def run_cli(args, *, monkeypatch, scripts, n_ctx: int = 8192) -> Outcome:
    engine = FakeEngine(list(scripts), chat_template=TEMPLATE, n_ctx=n_ctx)
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.BytesIO(), stdout=out, stderr=err, stdin_isatty=True, stdout_isatty=False,
                      vars=dict(os.environ))
    monkeypatch.setattr(cli, "_environment", lambda: env)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(thinkcli.load, "open_engine", lambda *a, **k: engine)
    return Outcome(cli.main(list(args)), out.getvalue(), err.getvalue())


def path_script(rng: random.Random, tokens: int, answer: str | None, *, injected: bool = False) -> list:
    """A path of ``tokens`` reasoning tokens of varied confidence, then its answer (None: no answer stated)."""
    script = [(" " + rng.choice(WORDS), -0.1, round(rng.uniform(2.0, 12.0), 2)) for _ in range(tokens)]
    if injected:
        script.insert(tokens // 2, (" " + INJECTED, -0.1, 1.0))
    tail = [f"The answer is {answer}."] if answer is not None else ["I", " am", " not", " sure", "."]
    return script + ["</think>", *[(t, -0.1, 6.0) for t in tail], EOG]


def five_paths(rng: random.Random | None = None, tokens: int = 60) -> list[list]:
    rng = rng or random.Random(7)
    return [path_script(rng, tokens, "19", injected=True), path_script(rng, tokens, "19"), path_script(rng, tokens, "18"),
            path_script(rng, tokens, None), path_script(rng, tokens, "19 & <i>so</i>")]


def record_run(monkeypatch, scripts, *extra: str, n_ctx: int = 8192) -> int:
    r = run_cli(["ask", "--samples", str(len(scripts)), "-t", "0.7", "--seed", "1", *extra, QUESTION],
                scripts=scripts, monkeypatch=monkeypatch, n_ctx=n_ctx)
    assert r.code == 0, r.err
    with RunStore(thinkcli.config.data_dir(os.environ) / "thinkcli.db", create=False) as store:
        return store.last()["id"]


def write_page(monkeypatch, tmp_path, scripts, *extra: str, n_ctx: int = 8192) -> str:
    record_run(monkeypatch, scripts, *extra, n_ctx=n_ctx)
    page = tmp_path / "run.html"
    r = run_cli(["trace", "--html", str(page)], scripts=scripts, monkeypatch=monkeypatch)
    assert r.code == 0 and r.out == "" and f"wrote {page}" in r.err
    return page.read_text(encoding="utf-8")


def embedded(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="thinkcli-run">(.*?)</script>', page, re.S).group(1)
    assert "<" not in block and ">" not in block
    return json.loads(block)


import thinkcli.config  # noqa: E402  (after the helpers that use it, to keep them together)


def test_a_run_page_holds_every_path_the_vote_and_the_plan(monkeypatch, tmp_path):
    page = write_page(monkeypatch, tmp_path, five_paths())
    assert page.count('<article class="path') == 5 and page.count('class="path chosen') == 1
    assert page.count('<polyline class="cv"') == 5 and page.count('class="lw"') == 5
    data = embedded(page)
    out = [p for p in data["paths"] if not p["voted"]]
    assert out and all(p["why_not"] and p["why_not"] in page for p in out) and "did not vote" in page
    assert "<h2>Vote</h2>" in page and "<h2>Plan</h2>" in page and "budget.think" in page and "<h2>Stats</h2>" in page
    assert re.search(r'<span class="[^"]*\bc0\b', page) and page.count('class="ins"') == 1  # the legend's alone
    assert data["question"] == QUESTION and len(data["paths"]) == 5
    assert [p["extracted"] for p in data["paths"]][:3] == ["19", "19", "18"]


def test_text_thinkcli_wrote_is_set_apart(monkeypatch, tmp_path):
    page = write_page(monkeypatch, tmp_path, five_paths(), "--think-budget", "20")
    assert re.search(r'<span class="ins[^"]*">\s*Time is up\. I have to give my final answer now\.</span>', page)


def test_model_and_user_text_stays_text(monkeypatch, tmp_path):
    page = write_page(monkeypatch, tmp_path, five_paths())
    assert INJECTED not in page and "<b>bold</b>" not in page and "<i>so</i>" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert page.count("<script") == 2  # the page's own script and its JSON block
    assert "\\u003c/script\\u003e" in page  # the question's "</script>" inside the JSON block


def test_the_page_loads_nothing_and_runs_only_its_own_script(monkeypatch, tmp_path):
    page = write_page(monkeypatch, tmp_path, five_paths())
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in policy and _hash(SCRIPT) in policy and _hash(CSS) in policy
    assert "unsafe-inline" not in policy
    assert not re.search(r"\b(src|href)=\"(https?:)?//", page) and "<link" not in page and "@import" not in page


def test_a_big_run_stays_small_with_curves_cut_down_and_texts_folded(monkeypatch, tmp_path):
    rng = random.Random(3)
    scripts = [path_script(rng, 4000, str(19 + i % 3)) for i in range(16)]
    page = write_page(monkeypatch, tmp_path, scripts, "--think-budget", "8000", n_ctx=100_000)
    assert page.count('<article class="path') == 16
    for points in re.findall(r'<polyline class="cv" points="([^"]+)"', page):
        assert len(points.split()) <= CURVE_POINTS
    assert "<details open><summary>reasoning" not in page
    assert len(page.encode()) < 3_000_000


def test_an_older_run_without_token_data_still_gets_a_page(monkeypatch, tmp_path):
    run_id = record_run(monkeypatch, five_paths())
    with RunStore(thinkcli.config.data_dir(os.environ) / "thinkcli.db") as store:
        store._db.execute("DELETE FROM tokens")  # as an earlier thinkcli recorded it
        record = store.get(run_id)
    page = run_report(record, None)
    assert "no per-token confidences" in page and page.count('<article class="path') == 5
    assert "<polyline" not in page


def test_html_with_path_is_a_usage_error_and_a_missing_folder_one_line(monkeypatch, tmp_path):
    record_run(monkeypatch, five_paths())
    r = run_cli(["trace", "--html", str(tmp_path / "x.html"), "--path", "2"], scripts=[[]], monkeypatch=monkeypatch)
    assert r.code == 2 and "--html writes every path" in r.err
    r = run_cli(["trace", "--html", str(tmp_path / "nowhere" / "x.html")], scripts=[[]], monkeypatch=monkeypatch)
    assert r.code == 1 and r.err.count("\n") == 1 and r.err.startswith("thinkcli: error:")


def test_writing_is_atomic(tmp_path):
    target = tmp_path / "page.html"
    target.write_text("old")
    assert write_atomic(target, "<p>new</p>") == len("<p>new</p>")
    assert target.read_text() == "<p>new</p>" and [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_json_blocks_cannot_be_closed_from_inside():
    block = json_script("x", {"text": "</script><script>alert(1)</script>\u2028&"})
    assert block.count("</script>") == 1 and "<" not in block[len('<script type="application/json" id="x">'):-9]
    assert json.loads(block.split(">", 1)[1].rsplit("<", 1)[0]) == {"text": "</script><script>alert(1)</script>\u2028&"}


# --- the batch report ------------------------------------------------------------------------

BATCH_SCRIPTS = [[(" Let", -0.1, 3.0), (" me", -0.1, 9.0), (" see", -0.1, 5.0), "</think>", "The", " answer", " is", " 4.", EOG]]


def test_a_batch_report_compares_the_levels_and_links_every_result_to_its_run(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"id": "a", "question": "2+2? " + INJECTED, "answer": 4},
                                    {"id": "b", "question": "2+3?", "answer": "5"}])
    report = tmp_path / "batch.html"
    code, _, err, _ = run_batch([str(path), "-e", "low,high", "-o", str(tmp_path / "o.jsonl"), "--report", str(report)],
                                monkeypatch, scripts=BATCH_SCRIPTS)
    assert code == 0 and f"wrote {report}" in err
    page = report.read_text()
    assert INJECTED not in page and "&lt;script&gt;" in page
    assert page.count('<tr id="problem-') == 2 and page.count('<circle class="pt"') == 2
    with RunStore(thinkcli.config.data_dir(os.environ) / "thinkcli.db", create=False) as store:
        ids = sorted(r["id"] for r in store.recent(10))
    assert sorted(int(i) for i in re.findall(r"<summary>run (\d+)</summary>", page)) == ids
    assert f"thinkcli trace {ids[-1]} --html run-{ids[-1]}.html" in page
    assert page.count("<svg viewBox") >= 2 * 6  # a curve for every path: 1 + 5 per problem

    # Resumed: nothing is solved again, and the page still finds each result's run.
    code, _, err, engine = run_batch([str(path), "-e", "low,high", "-o", str(tmp_path / "o.jsonl"), "--report",
                                      str(report)], monkeypatch, scripts=BATCH_SCRIPTS)
    assert code == 0 and not engine.prompts
    assert sorted(int(i) for i in re.findall(r"<summary>run (\d+)</summary>", report.read_text())) == ids


def test_a_batch_report_without_the_log_or_with_a_bad_name(tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"id": "a", "question": "2+2?", "answer": 4}])
    code, _, err, engine = run_batch([str(path), "--report", str(tmp_path / "r.txt")], monkeypatch, scripts=BATCH_SCRIPTS)
    assert code == 2 and "--report writes an .html file" in err and not engine.prompts
    report = tmp_path / "r.html"
    code, _, _, _ = run_batch([str(path), "--no-log", "--report", str(report)], monkeypatch, scripts=BATCH_SCRIPTS)
    assert code == 0 and "not in the run log" in report.read_text() and "<h2>Effort</h2>" in report.read_text()


@pytest.mark.parametrize("levels", ["low", "low,high"])
def test_a_batch_report_draws_the_scaling_curve_when_answers_are_graded(tmp_path, monkeypatch, levels):
    path = problems_file(tmp_path, ["2+2?", "3+3?"], name="p.txt")
    report = tmp_path / "r.html"
    code, _, _, _ = run_batch([str(path), "-e", levels, "--report", str(report)], monkeypatch, scripts=BATCH_SCRIPTS)
    assert code == 0 and "No expected answers: no accuracy to plot." in report.read_text()
