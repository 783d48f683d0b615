"""Seeing a real run's reasoning: ``ask -e high`` on the real small model, then ``trace --confidence`` and ``--html``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pexpect
import pytest

from browser import Browser, find_chromium
from thinkcli.render.shading import fits
from thinkcli.runlog.store import RunStore
from thinkcli.vote import trace_confidence

pytestmark = pytest.mark.model

QUESTION = "A farmer has 17 sheep. All but 9 run away. How many sheep are left?"


def thinkcli(home, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thinkcli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "THINKCLI_HOME": str(home)}, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def high_run(tmp_path_factory, model_path):
    """One ``ask -e high`` run of the real model, shared by the tests below."""
    home = tmp_path_factory.mktemp("views") / "home"
    (home / "models").mkdir(parents=True)
    try:
        os.link(model_path, home / "models" / model_path.name)
    except OSError:
        shutil.copyfile(model_path, home / "models" / model_path.name)
    # The reasoning models' high (the small model's own high answers directly, without a trace)
    done = thinkcli(home, "ask", "-e", "high", "--think-budget", "4096", "--samples", "5", "--seed", "2", "--json",
                    QUESTION)
    assert done.returncode == 0, done.stderr
    with RunStore(home / "thinkcli.db", create=False) as store:
        record = store.last()
        tokens = store.tokens(record["id"])
    return home, json.loads(done.stdout), record, tokens


def test_the_log_keeps_every_tokens_confidence_of_every_path(high_run):
    _, result, record, tokens = high_run
    assert len(result["samples"]) == 5 and len(tokens) == 5 and "tokens" not in result
    for sample, path in zip(record["samples"], tokens):
        assert fits(path, sample["reasoning"], sample["answer"])
        assert len(path.scored()) == sample["thinking_tokens"] + sample["answer_tokens"]
        assert trace_confidence(path.scored()) == pytest.approx(sample["confidence"], abs=0.01)  # float16


def test_trace_confidence_piped_and_on_a_terminal(high_run):
    home, _, record, _ = high_run
    piped = thinkcli(home, "trace", "--confidence")
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout
    assert piped.stdout.count("── path ") == 5 and piped.stdout.count("]]") >= 5
    assert "[[ ]]: each path's lowest window" in piped.stderr
    env = {**os.environ, "THINKCLI_HOME": str(home), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    shown = pexpect.run(f"{sys.executable} -m thinkcli trace {record['id']} --confidence --path 1", env=env,
                        timeout=60, dimensions=(50, 120), encoding="utf-8")
    assert re.search(r"\x1b\[[0-9;]*\b4\b[0-9;]*m", shown)  # the lowest window, underlined
    assert re.search(r"\x1b\[[0-9;]*3[1-3]m", shown)  # some tokens coloured by their confidence
    assert "least sure 5% 15% 30%" in re.sub(r"\x1b\[[0-9;]*m", "", shown)


def test_trace_html_writes_the_runs_page(high_run, tmp_path):
    home, result, record, _ = high_run
    page = tmp_path / "run.html"
    done = thinkcli(home, "trace", str(record["id"]), "--html", str(page))
    assert done.returncode == 0 and done.stdout == "" and f"wrote {page}" in done.stderr
    html = page.read_text(encoding="utf-8")
    assert html.count('<article class="path') == 5 and html.count('<polyline class="cv"') == 5
    binary = find_chromium()
    if binary is None and not os.environ.get("CI"):
        return  # the page's browser checks run in test_report_browser.py; here only where chromium is
    assert binary is not None, "CI must have chromium (apt-get install chromium)"
    with Browser(binary) as browser:
        browser.load(page)
        assert browser.problems() == []
        assert browser.evaluate("document.querySelectorAll('article.path').length") == 5
        assert browser.evaluate("document.querySelector('.answer').textContent") == result["answer"]


def test_batch_report_of_the_real_model(home_with_model, tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "sum", "question": "What is 12 + 7?", "answer": 19}\n'
                        '{"id": "prime", "question": "Is 7 a prime number? Answer yes or no.", "answer": "yes"}\n')
    report = tmp_path / "batch.html"
    done = thinkcli(home_with_model, "batch", str(problems), "-e", "none,low", "--seed", "1", "-o", str(tmp_path / "o.jsonl"),
                    "--report", str(report))
    assert done.returncode == 0, done.stderr
    html = report.read_text(encoding="utf-8")
    assert html.count('<tr id="problem-') == 2 and "<h2>Effort</h2>" in html and 'class="scaling"' in html
    runs = [int(i) for i in re.findall(r"<summary>run (\d+)</summary>", html)]
    assert len(runs) == 4 and all(f"thinkcli trace {i} --html run-{i}.html" in html for i in runs)
    with RunStore(home_with_model / "thinkcli.db", create=False) as store:
        assert sorted(runs) == sorted(r["id"] for r in store.recent(10)) and all(store.tokens(i) for i in runs)
