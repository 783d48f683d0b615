"""Renderers driven by hand-made event streams; assertions on what a person sees.

Terminal tests capture Rich's raw output (with cursor moves) and replay it in
``screen()``, a tiny terminal emulator, to get the final screen.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from rich.markdown import Markdown

from thinkcli.events import (
    Done,
    Explored,
    Notice,
    Progress,
    Result,
    SampleResult,
    Text,
    ThinkingDone,
)
from thinkcli.render import dispatch, make_renderer
from thinkcli.render.board import Board
from thinkcli.render.markdown_stream import (
    AnswerTail,
    BlockSplitter,
    last_boundary,
    preview_source,
)
from thinkcli.render.plain import JsonRenderer, PlainRenderer
from thinkcli.render.summary import explored_line, tally, thought_line
from thinkcli.render.terminal import TerminalRenderer
from thinkcli.render.trace import TraceView

WIDTH, HEIGHT = 60, 24
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"

# -- a terminal emulator small enough to trust --------------------------------
#
# Rich draws a Live region, then before each redraw moves the cursor back up
# over it erasing each line (CR, ESC[2K, then ESC[1A ESC[2K per extra line);
# a transient region is erased the same way when it stops. Replaying those
# moves on a grid of lines gives exactly what stays on screen, which is more
# robust than guessing from the raw text: every frame the live region drew is
# in the raw stream, only the permanent prints survive the replay.

_TOKEN = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|(\r)|(\n)|([^\x1b\r\n]+)")


def screen(raw: str) -> list[str]:
    """Replay ``raw`` terminal output; return the lines left on screen."""
    lines: list[list[str]] = [[]]
    row = col = 0
    for match in _TOKEN.finditer(raw):
        params, final, cr, nl, text = match.groups()
        if cr:
            col = 0
        elif nl:
            row, col = row + 1, 0
            while len(lines) <= row:
                lines.append([])
        elif text:
            line = lines[row]
            for char in text:
                line.extend(" " * (col + 1 - len(line)))
                line[col] = char
                col += 1
        elif final == "A":
            row = max(0, row - int(params or 1))
        elif final == "K":
            lines[row] = [] if params == "2" else lines[row][:col]
        elif final not in ("h", "l", "m"):
            raise AssertionError(f"unexpected control sequence {match.group(0)!r}")
    assert "".join(_TOKEN.sub("", raw)) == "", "unparsed output"
    result = ["".join(line).rstrip() for line in lines]
    while result and not result[-1]:
        result.pop()
    return result


def frame_heights(raw: str) -> list[int]:
    """Heights of the Live frames Rich erased (one run of cursor-ups each)."""
    return [len(run) // len("\x1b[1A\x1b[2K") for run in re.findall(r"(?:\x1b\[1A\x1b\[2K)+", raw)]


def term(height: int = HEIGHT) -> Console:
    return Console(
        file=io.StringIO(),
        width=WIDTH,
        height=height,
        force_terminal=True,
        color_system=None,
        legacy_windows=False,
    )


def pipe() -> Console:
    return Console(file=io.StringIO(), width=WIDTH, color_system=None)


def terminal(thinking: str = "live", height: int = HEIGHT):
    """A terminal renderer that redraws on every event (many frames, no thread)."""
    out, err = term(height), term(height)
    renderer = TerminalRenderer(
        out=out, err=err, thinking=thinking, auto_refresh=False, refresh_per_second=1e9
    )
    return renderer, out, err


def text_of(line) -> str:
    return "".join(segment.text for segment in line).rstrip()


def raw(console: Console) -> str:
    return console.file.getvalue()


def flat(lines: list[str]) -> str:
    """The screen as one string with runs of whitespace collapsed."""
    return " ".join(" ".join(lines).split())


REASONING = "".join(f"Secret step {i}: weigh option {i}.\n" for i in range(12))
ANSWER = "The answer is **42**.\n\nIt follows from the steps.\n\nDone here."
PARAGRAPHS = ["The answer is 42.", "It follows from the steps.", "Done here."]


def single_run(reasoning=REASONING, answer=ANSWER, reason="stop", tokens=312, seconds=4.2):
    """One sample: reasoning word by word, ThinkingDone, the answer char by char."""
    events = []
    words = re.findall(r"\S+\s*", reasoning)
    for i, word in enumerate(words):
        events.append(Text("reasoning", word, thinking_tokens=i + 1, elapsed_s=0.1 * i))
    if reason is not None:
        events.append(ThinkingDone(0, tokens, seconds, reason))
    events += [Text("answer", char) for char in answer]
    events.append(Done(Result(answer=answer, reasoning=reasoning)))
    return events


def parallel_run(answer="42"):
    def sample(name, answer, confidence):
        reasoning = f"Path {name} thinks {answer}."
        return SampleResult(reasoning, answer, answer, confidence=confidence)

    samples = (sample("one", "42", 0.9), sample("two", "41", 0.4), sample("three", "42", 0.8))
    events = []
    for step in range(1, 4):
        for i in range(3):
            done = step == 3
            extracted = samples[i].extracted if done else None
            events.append(Progress(i, 100 * step, 0, extracted, done, 0.5 * step))
    events.append(Explored(samples, chosen=0, agree=2, tokens=3412, seconds=14.2))
    events += [Text("answer", char) for char in answer]
    events.append(Done(Result(answer=answer, samples=list(samples))))
    return events


# -- terminal renderer --------------------------------------------------------


def test_live_mode_collapses_trace_into_summary_and_shows_answer_once():
    renderer, out, err = terminal("live")
    result = dispatch(single_run(), renderer)
    shown = flat(screen(raw(out)))
    assert "▸ Thought for 4.2s · 312 tokens" in shown
    assert "(budget reached)" not in shown
    for paragraph in PARAGRAPHS:
        assert shown.count(paragraph) == 1
    assert "Secret step" not in shown
    assert "Secret step 11" in raw(out), "the live region should have drawn the trace"
    assert shown.index("Thought for") < shown.index("The answer is 42.")
    assert result.answer == ANSWER
    assert raw(out).rfind(SHOW_CURSOR) > raw(out).rfind(HIDE_CURSOR)
    assert raw(err) == ""


def test_show_mode_prints_whole_trace_once_then_summary():
    renderer, out, _ = terminal("show")
    dispatch(single_run(), renderer)
    lines = screen(raw(out))
    for i in range(12):
        assert lines.count(f"Secret step {i}: weigh option {i}.") == 1
    summary = next(n for n, line in enumerate(lines) if "Thought for" in line)
    assert lines.index("Secret step 11: weigh option 11.") < summary
    assert flat(lines[summary:]).count("It follows from the steps.") == 1


def test_show_mode_keeps_a_trace_line_without_final_newline():
    renderer, out, _ = terminal("show")
    dispatch(single_run(reasoning="first line\nlast words"), renderer)
    lines = screen(raw(out))
    assert lines[:2] == ["first line", "last words"]
    assert "Thought for" in lines[2]


def test_hide_mode_never_draws_the_trace():
    renderer, out, _ = terminal("hide")
    dispatch(single_run(), renderer)
    assert "Secret step" not in raw(out)
    assert "Thinking" in raw(out), "the spinner header is still drawn"
    assert "Thought for 4.2s · 312 tokens" in flat(screen(raw(out)))


def test_budget_reason_is_noted_and_disabled_thinking_has_no_summary():
    renderer, out, _ = terminal()
    dispatch(single_run(reason="budget"), renderer)
    assert "Thought for 4.2s · 312 tokens (budget reached)" in flat(screen(raw(out)))

    renderer, out, _ = terminal()
    dispatch(single_run(reasoning="", reason="none"), renderer)
    shown = flat(screen(raw(out)))
    assert "Thought" not in shown
    assert shown.startswith("The answer is 42.")


def test_summary_uses_last_counts_when_thinking_done_is_missing():
    renderer, out, _ = terminal()
    dispatch(single_run(reasoning="a b c", reason=None), renderer)
    assert "Thought for 0.2s · 3 tokens" in flat(screen(raw(out)))


@pytest.mark.parametrize("height, bound", [(24, 9), (10, 7), (5, 2), (3, 1)])
def test_long_trace_never_makes_a_frame_taller_than_the_bound(height, bound):
    trace = "".join(f"line {i} " + "word " * 15 + "\n" for i in range(200))
    renderer, out, _ = terminal("live", height=height)
    renderer.start()
    for i, line in enumerate(trace.splitlines(keepends=True)):
        renderer.reasoning(Text("reasoning", line, thinking_tokens=i))
    view = [text_of(line) for line in out.render_lines(renderer._trace, out.options, pad=False)]
    assert len(view) == bound  # header + the last lines that fit
    assert view[0].startswith(("⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"))
    wrapped = [text_of(line) for line in out.render_lines(trace.strip(), out.options, pad=False)]
    assert view[1:] == wrapped[len(wrapped) - (bound - 1) :]
    renderer.finish(Result(answer="ok"))
    heights = frame_heights(raw(out))
    assert heights and max(heights) <= bound
    assert max(heights) >= bound - 1  # full frames were drawn and erased


def test_markdown_paragraphs_streamed_char_by_char_appear_once():
    renderer, out, _ = terminal()
    dispatch(single_run(), renderer)
    lines = screen(raw(out))
    assert lines[1:] == ["The answer is 42.", "", "It follows from the steps.", "", "Done here."]


RICH_ANSWER = """# Plan

Steps:

1. First item
2. Second item

   with a continuation

- bullet
- another

```python
def f():

    return 1
```

> quoted text

| a | b |
|---|---|
| 1 | 2 |

Final line."""


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_streamed_markdown_ends_identical_to_rendering_it_whole(chunk):
    renderer, out, _ = terminal()
    events = [Text("answer", RICH_ANSWER[i : i + chunk]) for i in range(0, len(RICH_ANSWER), chunk)]
    dispatch(events + [Done(Result(answer=RICH_ANSWER))], renderer)
    whole = term()
    whole.print(Markdown(RICH_ANSWER))
    assert screen(raw(out)) == screen(raw(whole))


def test_empty_answer_gets_a_note():
    renderer, out, _ = terminal()
    dispatch(single_run(answer="  \n\n "), renderer)
    lines = screen(raw(out))
    assert "Thought for" in lines[0]
    assert lines[-1] == "(the model gave no answer after thinking)"


def test_answer_only_in_result_is_still_printed():
    renderer, out, _ = terminal()
    dispatch([Done(Result(answer="Only **here**."))], renderer)
    assert screen(raw(out)) == ["Only here."]


def test_parallel_board_then_explored_summary_then_answer():
    renderer, out, _ = terminal()
    dispatch(parallel_run(), renderer)
    assert "path 3 · 200 tokens" in raw(out), "the board showed each path"
    assert flat(screen(raw(out))) == "▸ Explored 3 paths · 42 ×2 · 41 ×1 → 42 · 3,412 tokens · 14.2s 42"


def test_parallel_show_prints_each_path_before_summary():
    renderer, out, _ = terminal("show")
    dispatch(parallel_run(), renderer)
    shown = flat(screen(raw(out)))
    assert "path 2 · 41 · confidence 0.40" in shown
    assert shown.count("Path three thinks 42.") == 1
    assert shown.index("Path one thinks") < shown.index("Explored 3 paths · 42 ×2 · 41 ×1 → 42")


def test_board_is_bounded_and_counts_the_rest():
    board = Board()
    for i in range(30):
        board.update(Progress(i, 10 * i, 0, "x" * 80 if i == 1 else None, i % 3 == 0, 1.0))
    console = term()
    lines = console.render_lines(board, console.options, pad=False)
    texts = [text_of(line) for line in lines]
    assert len(texts) == 9
    assert texts[0].startswith("✓ path 1 · 0 tokens")
    assert texts[1].endswith("x" * 23 + "…")
    assert texts[-1] == "  + 22 more (7 done)"


def test_notice_goes_to_stderr_and_the_live_region_comes_back():
    renderer, out, err = terminal()
    renderer.start()
    renderer.reasoning(Text("reasoning", "hmm", thinking_tokens=1))
    before = len(raw(out))
    renderer.notice(Notice("context nearly full"))
    assert raw(err) == "context nearly full\n"
    assert "Thinking" in raw(out)[before:], "redrawn after the notice"
    renderer.finish(Result(answer="ok"))
    assert "context nearly full" not in raw(out)


def test_interrupted_while_answering_keeps_partial_answer():
    def events():
        for ev in single_run():
            if isinstance(ev, Text) and ev.text == "D":  # "Done here." never starts
                raise KeyboardInterrupt
            yield ev

    renderer, out, err = terminal()
    with pytest.raises(KeyboardInterrupt):
        dispatch(events(), renderer)
    renderer.interrupted(Result(answer="The answer is **42**.", interrupted=True))
    shown = flat(screen(raw(out)))
    assert shown.count("The answer is 42.") == 1
    assert shown.count("It follows from the steps.") == 1
    assert "Done" not in shown
    assert raw(err).strip() == "(interrupted)"
    assert raw(out).rfind(SHOW_CURSOR) > raw(out).rfind(HIDE_CURSOR)


def test_interrupted_while_thinking_shows_best_answer_so_far():
    renderer, out, err = terminal()
    renderer.start()
    renderer.reasoning(Text("reasoning", "Secret musing", thinking_tokens=3))
    renderer.interrupted(Result(answer="Probably 7.", interrupted=True))
    assert screen(raw(out)) == [
        "▸ Thought for 0.0s · 3 tokens (interrupted)",
        "(interrupted: the best answer so far, unfinished)",
        "Probably 7.",
    ]
    assert raw(err).strip() == "(interrupted)"

    renderer, out, err = terminal()
    renderer.start()
    renderer.interrupted(None)
    assert screen(raw(out)) == []
    assert raw(err).strip() == "(interrupted)"


def test_default_renderer_with_refresh_thread_ends_clean():
    out, err = term(), term()
    renderer = make_renderer(mode="terminal", thinking="live", out=out, err=err)
    assert isinstance(renderer, TerminalRenderer)
    dispatch(single_run(), renderer)
    shown = flat(screen(raw(out)))
    assert "Secret" not in shown and shown.count("Done here.") == 1


# -- dispatch -----------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


def test_dispatch_routes_events_and_returns_result():
    recorder = Recorder()
    events = single_run(reasoning="a", answer="b") + [Notice("late")]
    events.insert(1, Notice("note"))
    result = dispatch(events, recorder)
    names = [call[0] for call in recorder.calls]
    assert names == ["start", "reasoning", "notice", "thinking_done", "answer", "finish"]
    assert recorder.calls[-1][1] is result


def test_dispatch_lets_keyboard_interrupt_through_untouched():
    def events():
        yield Text("reasoning", "a")
        raise KeyboardInterrupt

    recorder = Recorder()
    with pytest.raises(KeyboardInterrupt):
        dispatch(events(), recorder)
    assert [call[0] for call in recorder.calls] == ["start", "reasoning"]


def test_dispatch_closes_live_region_on_error():
    def events():
        yield Text("reasoning", "a", thinking_tokens=1)
        raise RuntimeError("engine died")

    renderer, out, _ = terminal()
    with pytest.raises(RuntimeError, match="engine died"):
        dispatch(events(), renderer)
    assert raw(out).rfind(SHOW_CURSOR) > raw(out).rfind(HIDE_CURSOR)
    assert screen(raw(out)) == []
    with pytest.raises(RuntimeError, match="without a Done"):
        dispatch(iter([]), terminal()[0])


# -- plain and JSON -----------------------------------------------------------


@pytest.mark.parametrize("thinking", ["live", "hide"])
def test_plain_writes_only_the_answer_to_stdout(thinking):
    out, err = pipe(), pipe()
    dispatch(single_run(), PlainRenderer(out=out, err=err, thinking=thinking))
    assert raw(out) == ANSWER + "\n"
    assert raw(err) == ""


def test_plain_show_streams_reasoning_to_stderr():
    out, err = pipe(), pipe()
    dispatch(single_run(), PlainRenderer(out=out, err=err, thinking="show"))
    assert raw(out) == ANSWER + "\n"
    assert raw(err) == REASONING + "▸ Thought for 4.2s · 312 tokens\n"


def test_plain_dims_reasoning_on_a_terminal_stderr_only():
    out, err = pipe(), Console(file=io.StringIO(), force_terminal=True, color_system="standard")
    dispatch(single_run(answer="x\n"), PlainRenderer(out=out, err=err, thinking="show"))
    assert raw(out) == "x\n"
    assert "\x1b[2m" in raw(err)


def test_plain_empty_answer_and_parallel_summary():
    out, err = pipe(), pipe()
    dispatch(single_run(answer=""), PlainRenderer(out=out, err=err, thinking="live"))
    assert raw(out) == ""
    assert raw(err) == "(the model gave no answer after thinking)\n"

    out, err = pipe(), pipe()
    dispatch(parallel_run(), PlainRenderer(out=out, err=err, thinking="show"))
    assert raw(out) == "42\n"
    err_text = raw(err)
    assert err_text.endswith("▸ Explored 3 paths · 42 ×2 · 41 ×1 → 42 · 3,412 tokens · 14.2s\n")
    for number, name, answer in ((1, "one", "42"), (2, "two", "41"), (3, "three", "42")):
        header = f"── path {number} · {answer} · confidence"
        assert err_text.index(header) < err_text.index(f"Path {name} thinks {answer}.") < err_text.index("Explored")


def test_plain_notice_ends_a_reasoning_line_first():
    out, err = pipe(), pipe()
    events = [Text("reasoning", "half"), Notice("careful"), Text("answer", "a")]
    dispatch(events + [Done(Result(answer="a"))], PlainRenderer(out=out, err=err, thinking="show"))
    assert raw(err).startswith("half\ncareful\n")
    assert raw(out) == "a\n"


def test_plain_interrupted_writes_best_answer_once():
    out, err = pipe(), pipe()
    plain = PlainRenderer(out=out, err=err)
    plain.start()
    plain.answer(Text("answer", "partial"))
    plain.interrupted(Result(answer="partial answer"))
    assert raw(out) == "partial\n"
    assert raw(err) == "(interrupted)\n"

    out, err = pipe(), pipe()
    plain = PlainRenderer(out=out, err=err)
    plain.start()
    plain.interrupted(Result(answer="best"))
    assert raw(out) == "best\n"


def test_plain_lets_broken_pipe_propagate():
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    out = Console(file=ClosedPipe(), color_system=None)
    with pytest.raises(BrokenPipeError):
        dispatch(single_run(), PlainRenderer(out=out, err=pipe()))


def test_json_prints_result_at_the_end_only():
    out, err = pipe(), pipe()
    renderer = make_renderer(mode="json", thinking="show", out=out, err=err)
    events = single_run()
    events.insert(3, Notice("fyi"))
    result = dispatch(events, renderer)
    assert json.loads(raw(out)) == result.to_dict()
    assert raw(out).endswith("}\n")
    assert raw(err) == "fyi\n"


def test_json_interrupted_marks_partial_result():
    out, err = pipe(), pipe()
    renderer = JsonRenderer(out=out, err=err)
    renderer.start()
    renderer.interrupted(Result(answer="so far"))
    data = json.loads(raw(out))
    assert data["interrupted"] is True and data["answer"] == "so far"


def test_make_renderer_picks_by_mode():
    out, err = pipe(), pipe()
    assert isinstance(make_renderer(mode="plain", thinking="hide", out=out, err=err), PlainRenderer)
    with pytest.raises(ValueError):
        make_renderer(mode="html", thinking="hide", out=out, err=err)  # type: ignore[arg-type]


# -- pieces -------------------------------------------------------------------


def test_splitter_keeps_fences_and_indented_continuations_together():
    assert last_boundary("a\n\nb") == 3
    assert last_boundary("a\n\n  indented") == 0
    assert last_boundary("```\ncode\n\nmore\n") == 0
    assert last_boundary("~~~~\nx\n~~~\n\nstill code") == 0
    assert last_boundary("```\nx\n```\n\nafter") == len("```\nx\n```\n\n")
    assert last_boundary("a\n\n") == 0, "wait for the next block to begin"


def test_splitter_pieces_always_add_up_to_the_text():
    for cut in range(1, len(RICH_ANSWER)):
        splitter = BlockSplitter()
        blocks = [splitter.feed(RICH_ANSWER[:cut]), splitter.feed(RICH_ANSWER[cut:])]
        text = "".join(block for block in blocks if block) + splitter.flush()
        assert text == RICH_ANSWER


def test_long_code_tail_previews_its_last_lines_as_the_full_render_would():
    code = "Intro.\n\n```python\n" + "".join(f"value_{i} = {i}\n" for i in range(300))
    assert len(preview_source(code, 10).split("\n")) == 21
    assert preview_source("short", 10) == "short"
    console = term()
    tail = AnswerTail()
    tail.text = code
    shown = [text_of(line) for line in console.render_lines(tail, console.options, pad=False)]
    full = [text_of(line) for line in console.render_lines(Markdown(code), console.options)]
    assert len(shown) == HEIGHT - 3
    assert shown == full[-len(shown) :]


def test_summary_lines():
    assert thought_line(1.04, 1, "length") == "▸ Thought for 1.0s · 1 token (context full)"
    assert thought_line(3.0, 5, "none") is None
    explored = Explored((SampleResult(),), chosen=0, agree=1, tokens=1234, seconds=2.0)
    assert explored_line(explored) == "▸ Explored 1 path · no answers to compare → most confident · 1,234 tokens · 2.0s"


def test_trace_view_header_counts():
    view = TraceView()
    view.update(text="", tokens=1234, elapsed_s=2.5)
    header = view.header(0.0).plain
    assert "Thinking · 1,234 tokens · 2.5s" in header


def test_tally_says_how_the_paths_voted_and_why_the_winner_won():
    def s(answer, end="stop", verified=None):
        return SampleResult(extracted=answer, think_end=end, verified=verified)

    assert tally((s("8"), s("7"), s("3")), 0) == "8 ×1 · 7 ×1 · 3 ×1 → 8, most confident"
    assert tally((s("7"), s("8"), s("8")), 0) == "8 ×2 · 7 ×1 → 7, by confidence"
    assert tally((s("8", verified=True), s("8"), s("x", "pruned")), 0) == "8 ×2 → 8, verified · 1 pruned"
    assert tally((s(None), s("4")), 0) == "no answers to compare → most confident"
    assert tally((s("a" * 40),), 0) == f"{'a' * 15}… ×1 → {'a' * 15}…"


def cut_result(answer="The answer is"):
    return Result(answer=answer, samples=[SampleResult(answer=answer, answer_end="length")])


def test_a_cut_off_answer_is_said_after_it_on_a_terminal_and_on_stderr_when_piped():
    renderer, out, err = terminal()
    dispatch([Text("answer", "The answer is"), Done(cut_result())], renderer)
    assert screen(raw(out))[-1] == "(the answer was cut off at the token limit)"

    out, err = pipe(), pipe()
    dispatch([Text("answer", "The answer is"), Done(cut_result())], PlainRenderer(out=out, err=err))
    assert raw(out) == "The answer is\n"
    assert raw(err) == "(the answer was cut off at the token limit)\n"

    out, err = pipe(), pipe()
    dispatch([Text("answer", "Done."), Done(Result(answer="Done.", samples=[SampleResult()]))], PlainRenderer(out=out, err=err))
    assert raw(err) == ""


def test_an_answer_stopped_in_a_loop_is_said_after_it():
    looped = Result(answer="a a a", samples=[SampleResult(answer="a a a", answer_end="loop")])
    renderer, out, _ = terminal()
    dispatch([Text("answer", "a a a"), Done(looped)], renderer)
    assert screen(raw(out))[-1] == "(the answer was stopped: it kept repeating itself)"

    out, err = pipe(), pipe()
    dispatch([Text("answer", "a a a"), Done(looped)], PlainRenderer(out=out, err=err))
    assert raw(out) == "a a a\n" and raw(err) == "(the answer was stopped: it kept repeating itself)\n"


def test_interrupted_while_thinking_keeps_the_folded_line():
    renderer, out, err = terminal()
    renderer.start()
    renderer.reasoning(Text("reasoning", "Secret musing", thinking_tokens=226, elapsed_s=5.3))
    renderer.interrupted(None)
    assert screen(raw(out)) == ["▸ Thought for 5.3s · 226 tokens (interrupted)"]
    assert raw(err).strip() == "(interrupted)"

    out, err = pipe(), pipe()
    renderer = PlainRenderer(out=out, err=err, thinking="show")
    renderer.start()
    renderer.reasoning(Text("reasoning", "Secret musing", thinking_tokens=226, elapsed_s=5.3))
    renderer.interrupted(Result(answer="Maybe 7", interrupted=True))
    assert raw(out) == "Maybe 7\n"
    assert raw(err) == (
        "Secret musing\n▸ Thought for 5.3s · 226 tokens (interrupted)\n"
        "(interrupted: the best answer so far, unfinished)\n(interrupted)\n"
    )


def test_interrupted_while_exploring_folds_the_board():
    renderer, out, err = terminal()
    renderer.start()
    renderer.progress(Progress(0, 100, 0, None, False, 1.0))
    renderer.progress(Progress(1, 120, 5, "7", True, 1.0))
    renderer.interrupted(None)
    assert screen(raw(out)) == ["▸ Explored 2 paths · 225 tokens (interrupted)"]


def test_json_shows_a_spinner_on_a_terminal_stderr_and_leaves_it_clean():
    out, err = pipe(), term()
    renderer = JsonRenderer(out=out, err=err, auto_refresh=False)
    dispatch(single_run(), renderer)
    assert "Waiting for the model" in raw(err) and " tokens · " in raw(err), "the spinner counted the thinking"
    assert screen(raw(err)) == []  # and is gone at the end
    assert json.loads(raw(out))["answer"]

    out, err = pipe(), term()
    dispatch(parallel_run(), JsonRenderer(out=out, err=err, auto_refresh=False))
    assert "Exploring 3 paths" in raw(err) and screen(raw(err)) == []

    out, err = pipe(), pipe()
    dispatch(single_run(), JsonRenderer(out=out, err=err))
    assert raw(err) == ""


def test_progress_shows_the_budget_and_each_paths_latest_words():
    view = TraceView()
    view.update(text="", tokens=245, elapsed_s=1.0, budget=1024)
    assert "Thinking · 245/1,024 tokens · " in view.header(0.0).plain
    view.update(text="", tokens=245, elapsed_s=1.0)
    assert "Thinking · 245 tokens · " in view.header(0.0).plain

    board = Board()
    board.update(Progress(0, 312, 0, None, False, 1.0, budget=4096, line="so the total is"))
    board.update(Progress(1, 90, 4, "42", True, 1.0, budget=4096, line="Answer: 42"))
    console = term()
    texts = [text_of(line) for line in console.render_lines(board, console.options, pad=False)]
    assert texts[0].endswith("path 1 · 312/4,096 tokens · so the total is")
    assert texts[1] == "✓ path 2 · 90/4,096 tokens · 42"
