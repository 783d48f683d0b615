"""The real program in a pseudo-terminal, read back through a terminal emulator (pyte)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pexpect
import pyte
import pytest

pytestmark = pytest.mark.model
COLS, ROWS = 100, 40
QUESTION = "What is 12 + 7?"


def spawn(home, *args: str) -> pexpect.spawn:
    env = {**os.environ, "THINKCLI_HOME": str(home), "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)}
    return pexpect.spawn(sys.executable, ["-m", "thinkcli", *args], env=env, dimensions=(ROWS, COLS),
                         encoding="utf-8", timeout=240)


def screen_of(raw: str) -> list[str]:
    """What a person sees at the end, scrollback included."""
    screen = pyte.HistoryScreen(COLS, ROWS, history=2000)
    stream = pyte.Stream(screen)
    stream.feed(raw.replace("\n", "\r\n") if "\r\n" not in raw else raw)
    history = ["".join(ch.data for ch in line.values()).rstrip() for line in screen.history.top]
    return history + [line.rstrip() for line in screen.display]


def run_to_end(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return child.before


def reasoning_lines(home, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "thinkcli", "ask", "--json", *args], capture_output=True,
                          text=True, timeout=240, env={**os.environ, "THINKCLI_HOME": str(home)})
    doc = json.loads(done.stdout)
    return [line.strip() for line in doc["reasoning"].splitlines() if len(line.strip()) > 12]


def test_trace_folds_into_one_summary_line(home_with_model):
    args = ("--seed", "1", "-e", "low", QUESTION)
    trace = reasoning_lines(home_with_model, *args)
    assert trace, "the model should have thought"
    child = spawn(home_with_model, "ask", *args)
    lines = screen_of(run_to_end(child))
    assert child.exitstatus == 0
    summaries = [line for line in lines if "Thought for" in line]
    assert len(summaries) == 1 and "tokens" in summaries[0]
    text = "\n".join(lines)
    for line in trace:
        assert line not in text
    assert lines.index(summaries[0]) < max(i for i, line in enumerate(lines) if line.strip())


def test_show_thinking_keeps_the_trace(home_with_model):
    args = ("--seed", "1", "-e", "low", QUESTION)
    trace = reasoning_lines(home_with_model, *args)
    child = spawn(home_with_model, "ask", "--show-thinking", *args)
    text = "\n".join(screen_of(run_to_end(child)))
    assert child.exitstatus == 0
    assert "Thought for" in text
    for line in trace:
        assert text.count(line[:60]) >= 1


def test_parallel_paths_fold_into_an_explored_line(home_with_model):
    child = spawn(home_with_model, "ask", "--seed", "2", "--samples", "3", "--think-budget", "48",
                  "--max-tokens", "64", QUESTION)
    lines = screen_of(run_to_end(child))
    assert child.exitstatus == 0
    explored = [line for line in lines if "Explored 3 paths" in line]
    assert len(explored) == 1 and "→" in explored[0]
    assert not any("path 1" in line for line in lines)  # the live board is gone


def test_ctrl_c_stops_and_exits_130(home_with_model):
    child = spawn(home_with_model, "ask", "--seed", "3", "--think-budget", "4000", "--min-think", "3000",
                  "Write a very long essay about the history of mathematics.")
    child.expect("Thinking")
    child.expect(r"\d+ tokens")
    child.sendintr()
    raw = run_to_end(child)
    assert child.exitstatus == 130
    assert "(interrupted)" in "\n".join(screen_of(raw))
    assert "Traceback" not in raw


def test_ctrl_c_during_prompt_evaluation_stops_the_run(home_with_model, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("rivers and trains in spring weather " * 900 + "\n\nSummarize this.")  # ~5,000 words
    child = spawn(home_with_model, "ask", "-e", "low", "--seed", "1", "-f", str(notes))
    child.expect("Waiting for the model")
    child.sendintr()
    lines = screen_of(run_to_end(child))
    assert child.exitstatus == 130
    assert any("(interrupted)" in line for line in lines)
    assert not any("Thought for" in line or "Traceback" in line for line in lines)


def test_ctrl_c_while_thinking_keeps_the_folded_line(home_with_model):
    child = spawn(home_with_model, "ask", "--seed", "1", "--think-budget", "4000", "--min-think", "3000", QUESTION)
    child.expect("Thinking")
    child.expect(r" · [1-9][\d,]*/[\d,]+ tokens")  # the model has begun to think ("0/4,000 tokens" is not it)
    child.sendintr()
    lines = screen_of(run_to_end(child))
    assert child.exitstatus == 130
    folded = [line for line in lines if "Thought for" in line]
    assert len(folded) == 1 and re.search(r"· [\d,]+ tokens? \(interrupted\)$", folded[0]), lines
    assert not any("Thinking ·" in line for line in lines), lines  # the live display is gone


def test_json_on_a_terminal_shows_a_spinner_then_only_the_document(home_with_model):
    child = spawn(home_with_model, "ask", "--json", "--seed", "1", "-e", "low", QUESTION)
    raw = run_to_end(child)
    assert child.exitstatus == 0
    assert "Waiting for the model" in raw or "Thinking" in raw
    lines = [line for line in screen_of(raw) if line.strip()]
    assert lines[0] == "{" and "}" in lines  # the spinner left nothing behind
    assert any('"seed": 1,' in line for line in lines)
