"""The HTML pages in a real browser: headless Chromium loads them, runs their script, and shows them.

Chromium comes from the system (Debian: ``apt-get install chromium``; CI installs it).
Where it is missing these tests skip with one line, except under CI, where they fail.
"""

from __future__ import annotations

import os
import random

import pytest

from browser import Browser, find_chromium
from test_batch import problems_file, run_batch
from test_html_report import BATCH_SCRIPTS, INJECTED, QUESTION, five_paths, path_script, write_page


@pytest.fixture(scope="module")
def chromium():
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI must run the browser tests (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with Browser(binary) as browser:
        yield browser


def count(browser: Browser, selector: str, *, visible: bool = False) -> int:
    test = ".filter(e => e.offsetParent !== null)" if visible else ""
    return browser.evaluate(f"[...document.querySelectorAll({selector!r})]{test}.length")


def test_a_run_page_shows_every_path_and_runs_no_model_text(chromium, monkeypatch, tmp_path):
    page = tmp_path / "run.html"
    page.write_text(write_page(monkeypatch, tmp_path, five_paths()), encoding="utf-8")
    chromium.load(page)
    assert chromium.problems() == []
    assert count(chromium, "article.path", visible=True) == 5
    assert chromium.evaluate("typeof window.__pwned") == "undefined"
    assert chromium.evaluate("document.scripts.length") == 2
    assert INJECTED in chromium.evaluate("document.querySelector('#path-1 .text').textContent")
    assert chromium.evaluate("document.querySelector('pre.question').textContent") == QUESTION
    assert chromium.evaluate("JSON.parse(document.getElementById('thinkcli-run').textContent).paths.length") == 5
    shot = chromium.screenshot(tmp_path / "run.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_the_toolbar_filters_lays_out_and_unfolds(chromium, monkeypatch, tmp_path):
    page = tmp_path / "run.html"
    page.write_text(write_page(monkeypatch, tmp_path, five_paths()), encoding="utf-8")
    chromium.load(page)
    assert chromium.evaluate("document.getElementById('toolbar').hidden") is False
    voted = count(chromium, "article.path.voted")
    assert 0 < voted < 5
    chromium.evaluate("document.querySelector('[data-show=voted]').click()")
    assert count(chromium, "article.path", visible=True) == voted
    chromium.evaluate("document.querySelector('[data-show=chosen]').click()")
    assert count(chromium, "article.path", visible=True) == 1
    chromium.evaluate("document.querySelector('[data-layout=columns]').click()")
    assert chromium.evaluate("document.getElementById('paths').classList.contains('columns')") is True
    assert chromium.evaluate("document.querySelector('[data-layout=columns]').getAttribute('aria-pressed')") == "true"
    chromium.evaluate("document.querySelector('[data-open=\"1\"]').click()")
    assert chromium.evaluate("[...document.querySelectorAll('#paths details')].every(d => d.open)") is True
    assert chromium.problems() == []


def test_a_run_of_sixteen_long_paths_loads(chromium, monkeypatch, tmp_path):
    rng = random.Random(5)
    scripts = [path_script(rng, 4000, str(19 + i % 3)) for i in range(16)]
    page = tmp_path / "big.html"
    page.write_text(write_page(monkeypatch, tmp_path, scripts, "--think-budget", "8000", n_ctx=100_000), encoding="utf-8")
    chromium.load(page)
    assert chromium.problems() == []
    assert count(chromium, "article.path", visible=True) == 16
    assert count(chromium, "#paths svg.curve", visible=True) == 16


def test_a_batch_report_loads_with_every_problem(chromium, tmp_path, monkeypatch):
    path = problems_file(tmp_path, [{"id": "a", "question": "2+2? " + INJECTED, "answer": 4},
                                    {"id": "b", "question": "2+3?", "answer": "5"}, {"id": "c", "question": "1+1?"}])
    report = tmp_path / "batch.html"
    code, _, _, _ = run_batch([str(path), "-e", "low,high", "--report", str(report)], monkeypatch, scripts=BATCH_SCRIPTS)
    assert code == 0
    chromium.load(report)
    assert chromium.problems() == []
    assert count(chromium, "tr[id^=problem-]", visible=True) == 3
    assert count(chromium, "svg.scaling circle.pt") == 2
    assert chromium.evaluate("typeof window.__pwned") == "undefined"
