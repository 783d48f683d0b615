"""Confidence in the terminal: ``trace --confidence`` and ``/trace --confidence`` shade every token."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from test_chat import chat
from test_log import records, run_cli
from thinkcli.chat.commands import CommandError, parse
from thinkcli.engine.fake import EOG
from thinkcli.render.shading import (
    INSERTED, SURE, Scale, Segment, bracketed, fits, legend, print_confidence, segments, shaded,
)
from thinkcli.runlog.store import RunStore
from thinkcli.runlog.tokens import PathTokens

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Twenty tokens: the reasoning "aaaa..." then the answer; token 6 is far less sure than the rest.
CONFIDENCES = tuple([8.0] * 6 + [0.5] + [8.0] * 5 + [None] + [8.0] * 7)
REASONING, ANSWER = "r" * 12 + "WAIT", "a" * 7


def path_tokens() -> PathTokens:
    ends = tuple(range(1, 13)) + (16,) + tuple(range(17, 24))
    return PathTokens(ends, CONFIDENCES, len(REASONING))


def console(**kw) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=80, force_terminal=True, color_system="standard", **kw), out


def test_the_scale_ranks_a_runs_tokens_and_a_flat_run_has_nothing_to_shade():
    scale = Scale.of([path_tokens()])
    assert scale.level(0.5) == 0 and scale.level(8.0) == SURE and scale.level(None) == INSERTED
    assert Scale.of([PathTokens((1, 2), (1.0, 1.0), 2)]).flat
    assert Scale.of([None]).flat and Scale.of([]).low == 0.0


def test_segments_cover_the_text_mark_the_window_and_split_at_the_answer():
    parts = segments(REASONING, ANSWER, path_tokens(), Scale.of([path_tokens()]))
    assert "".join(p.text for p in parts) == REASONING + ANSWER
    assert [p.text for p in parts if p.level == 0] == ["r"]
    assert [p.text for p in parts if p.level == INSERTED] == ["WAIT"]
    assert all(p.answer == (p.text[0] == "a") for p in parts)
    assert any(p.window for p in parts)  # 19 scored tokens: one window of 16 holds the unsure one
    low = next(p for p in parts if p.level == 0)
    assert low.window


def test_text_the_tokens_do_not_reach_is_left_unshaded():
    short = PathTokens((3,), (2.0,), 3)
    parts = segments("abc", "def", short, Scale.of([short]))
    assert parts[-1] == Segment("def", None, False, True)
    assert not fits(short, "abcd", "") and not fits(None, "a", "") and fits(short, "abc", "def")


def test_colours_underline_and_italics_on_a_terminal():
    parts = segments(REASONING, ANSWER, path_tokens(), Scale.of([path_tokens()]))
    out, buffer = console()
    out.print(shaded(parts, "color"))
    text = buffer.getvalue()
    assert "\x1b[1;4;31mr" in text  # the unsure token: bold red, underlined (in the lowest window)
    assert re.search(r"\x1b\[[0-9;]*3;[0-9;]*36m|\x1b\[3;36m|\x1b\[3;4;36m", text)  # thinkcli's words: italic cyan
    assert ANSI.sub("", text).strip() == REASONING + ANSWER


def test_no_color_keeps_bold_and_underline_only():
    parts = segments(REASONING, ANSWER, path_tokens(), Scale.of([path_tokens()]))
    out, buffer = console()
    out.print(shaded(parts, "mono"))
    codes = set(re.findall(r"\x1b\[([0-9;]*)m", buffer.getvalue()))
    assert codes and all(not any(30 <= int(c) <= 37 for c in code.split(";") if c) for code in codes)
    assert any("4" in code.split(";") for code in codes)


def test_plain_text_brackets_the_lowest_window():
    parts = [Segment("one ", SURE, False, False), Segment("two ", 0, True, False), Segment("three", SURE, True, False),
             Segment(" four", SURE, False, False)]
    assert bracketed(parts) == "one [[two three]] four"
    assert bracketed([Segment("x", 0, True, False)]) == "[[x]]"
    assert str(shaded(parts, "plain")) == "one [[two three]] four"


@pytest.mark.parametrize("mode", ["color", "mono", "plain"])
def test_the_legend_is_one_line(mode):
    out, buffer = console()
    out.print(legend(Scale.of([path_tokens()]), mode))
    assert buffer.getvalue().count("\n") == 1


def test_print_confidence_heads_each_path_and_says_when_a_path_has_no_tokens():
    record = {"samples": [{"reasoning": REASONING, "answer": ANSWER, "extracted": "7", "confidence": 1.2},
                          {"reasoning": "other", "answer": "b", "confidence": 0.3}], "chosen": 0}
    out, buffer = console()
    print_confidence(record, [path_tokens()], out, mode="color")
    text = ANSI.sub("", buffer.getvalue()).splitlines()
    assert text[0].startswith("── path 1 · 7 · confidence 1.20 · chosen") and text[2] == "answer:"
    assert "── path 2 · confidence 0.30" in text and "(no per-token confidences for this path)" in text


# --- the commands --------------------------------------------------------------------------

SCRIPT = [("Let", -0.1, 9.0), (" me", -0.1, 0.2), (" add", -0.1, 9.0), (" them.", -0.1, 9.0), "</think>",
          ("The answer", -0.1, 9.0), (" is 19.", -0.1, 9.0), EOG]


def test_trace_confidence_piped_brackets_the_window_with_the_legend_on_stderr(monkeypatch, isolated_home):
    run_cli(["ask", "What is 12+7?"], scripts=(SCRIPT,), monkeypatch=monkeypatch)
    r = run_cli(["trace", "--confidence"], monkeypatch=monkeypatch)
    assert r.code == 0 and "\x1b[" not in r.out
    assert r.out.splitlines() == ["── path 1 · 19 · confidence 6.74 · chosen", "[[Let me add them.]]", "answer:",
                                  "[[The answer is 19.]]"]
    assert r.err.count("\n") == 1 and "[[ ]]: each path's lowest window" in r.err


def test_trace_confidence_on_a_terminal_colours_the_unsure_token(monkeypatch, isolated_home):
    run_cli(["ask", "What is 12+7?"], scripts=(SCRIPT,), monkeypatch=monkeypatch)
    r = run_cli(["trace", "--confidence"], monkeypatch=monkeypatch, tty=True)
    assert r.code == 0 and "\x1b[1;4;31m me" in r.out  # bold red and underlined
    plain = ANSI.sub("", r.out).splitlines()
    assert plain[0].startswith("run 1") and plain[1].startswith("least sure 5% 15% 30%")
    assert plain[2:] == ["── path 1 · 19 · confidence 6.74 · chosen", "Let me add them.", "answer:", "The answer is 19."]
    mono = run_cli(["trace", "--confidence"], monkeypatch=monkeypatch, tty=True, env={"NO_COLOR": "1"})
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", mono.out) and "\x1b[1;4m me" in mono.out


def test_trace_confidence_of_one_path_of_several(monkeypatch, isolated_home):
    paths = [[("Add.", -0.1, 3.0), "</think>", "It is 19.", EOG], [("Count.", -0.1, 1.0), "</think>", "It is 19.", EOG]]
    run_cli(["ask", "--samples", "2", "-t", "0.7", "q"], scripts=paths, monkeypatch=monkeypatch)
    r = run_cli(["trace", "--confidence", "--path", "2"], monkeypatch=monkeypatch)
    assert r.code == 0 and r.out.splitlines() == ["── path 2 · 19 · confidence 1.67", "[[Count.]]", "answer:", "[[It is 19.]]"]


def test_a_run_recorded_without_token_data_says_so_in_one_line(monkeypatch, isolated_home):
    run_cli(["ask", "What is 12+7?"], scripts=(SCRIPT,), monkeypatch=monkeypatch)
    with RunStore(isolated_home / "thinkcli.db") as store:
        store._db.execute("DELETE FROM tokens")  # as a run recorded by an earlier thinkcli
    r = run_cli(["trace", "--confidence"], monkeypatch=monkeypatch)
    assert r.code == 0 and r.out == "Let me add them.\n"
    assert r.err == "run 1 has no per-token confidences (it was recorded before thinkcli kept them); the plain trace follows\n"


def test_a_run_without_log_probabilities_has_nothing_to_shade(monkeypatch, isolated_home):
    run_cli(["ask", "q"], scripts=(["Hm.", "</think>", "Yes.", EOG],), monkeypatch=monkeypatch)
    r = run_cli(["trace", "--confidence"], monkeypatch=monkeypatch)
    assert r.out == "Hm.\n" and "has no confidences to shade" in r.err and r.err.count("\n") == 1
    assert records(isolated_home)[0]["samples"][0]["confidence"] == 2.0


@pytest.mark.parametrize("line, number", [("/trace --confidence", None), ("/trace 2 --confidence", 2),
                                          ("/trace --confidence 3", 3)])
def test_chat_trace_takes_the_flag_anywhere(line, number):
    cmd = parse(line)
    assert cmd.name == "trace" and cmd.number == number and "--confidence" in cmd.arg.split()


@pytest.mark.parametrize("line", ["/trace --colour", "/trace 1 2", "/trace x"])
def test_chat_trace_rejects_what_it_does_not_know(line):
    with pytest.raises(CommandError):
        parse(line)


def test_chat_trace_confidence_reads_the_turns_run(monkeypatch, isolated_home):
    r = chat(["q", "/trace --confidence", "/trace"], monkeypatch=monkeypatch, scripts=(SCRIPT,))
    out = r.out.splitlines()
    assert out[0] == "The answer is 19."
    assert out[2:5] == ["[[Let me add them.]]", "answer:", "[[The answer is 19.]]"] and out[5] == "Let me add them."
    assert "[[ ]]: each path's lowest window" in r.err


def test_chat_trace_confidence_with_logging_off_says_why_not(monkeypatch, isolated_home):
    r = chat(["q", "/trace --confidence"], "--no-log", monkeypatch=monkeypatch, scripts=(SCRIPT,))
    assert "this turn was not recorded, and per-token confidences are kept in the run log" in r.err
    assert r.out.splitlines()[-1] == "Let me add them."
