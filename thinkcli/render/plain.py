"""Renderers for pipes and files: the answer as plain text, or one JSON document.

stdout carries only the answer (or the JSON); reasoning, summaries and notices
go to stderr. A closed stdout pipe raises BrokenPipeError for the CLI to handle.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.text import Text

from thinkcli.events import Explored, Notice, Progress, Result, ThinkEnd, ThinkingDone
from thinkcli.events import Text as TextEvent
from thinkcli.render.region import Region
from thinkcli.render.trace import TraceView
from thinkcli.render.summary import (
    INTERRUPTED,
    PARTIAL,
    Thinking,
    cut_note,
    explored_line,
    interrupted_thought_line,
    no_answer_note,
    thought_line,
)


def _write(console: Console, text: str) -> None:
    """Write raw text to the console's file: no markup, wrapping or escape codes."""
    file = console.file
    file.write(text)
    file.flush()


class PlainRenderer:
    """The answer to stdout as it streams; the trace to stderr only with show.

    Args:
        out: The console for stdout (a pipe or a file); written to raw.
        err: The console for stderr; dim styles show only if it is a terminal.
        thinking: ``"show"`` streams the reasoning to stderr; anything else
            keeps it out of sight.
    """

    def __init__(self, *, out: Console, err: Console, thinking: Thinking = "live") -> None:
        self.out = out
        self.err = err
        self.thinking = thinking
        self._reset()

    def _reset(self) -> None:
        self._answer = ""
        self._err_mid_line = False
        self._thinking_open = False
        self._thought = False
        self._last = (0.0, 0)

    def start(self) -> None:
        """Forget any previous run."""
        self._reset()

    def reasoning(self, ev: TextEvent) -> None:
        """Stream the trace to stderr, dimmed, with show; otherwise nothing."""
        self._thinking_open = True
        self._thought = True
        self._last = (ev.elapsed_s, ev.thinking_tokens)
        if self.thinking == "show" and ev.text:
            self.err.print(Text(ev.text, style="dim"), end="", soft_wrap=True)
            self._err_mid_line = not ev.text.endswith("\n")

    def thinking_done(self, ev: ThinkingDone) -> None:
        """End the trace's line; with show, summarize it."""
        self._end_thinking(ev.seconds, ev.tokens, ev.reason)

    def answer(self, ev: TextEvent) -> None:
        """Write the piece to stdout and flush it."""
        if self._thinking_open:
            self._end_thinking(*self._last, "stop")
        if ev.text:
            _write(self.out, ev.text)
            self._answer += ev.text

    def progress(self, ev: Progress) -> None:
        """Nothing: a pipe has no live display."""

    def explored(self, ev: Explored) -> None:
        """With show, each path's trace headed by its number, then a summary line, on stderr."""
        self._thought = True
        if self.thinking != "show":
            return
        for index, sample in enumerate(ev.samples):
            answer = sample.extracted if sample.extracted is not None else "no answer"
            self._err_line(Text(f"── path {index + 1} · {answer} · confidence {sample.confidence:.2f}", style="dim bold"))
            if sample.reasoning.strip():
                self._err_line(Text(sample.reasoning.strip("\n"), style="dim"))
        self._err_line(Text(explored_line(ev), style="dim"))

    def notice(self, ev: Notice) -> None:
        """One line on stderr."""
        self._err_line(Text(ev.text, style="yellow"))

    def finish(self, result: Result) -> None:
        """End the answer with a newline, or say on stderr that there was none."""
        if self._thinking_open:
            self._end_thinking(*self._last, "stop")
        if not self._answer and result.answer:
            _write(self.out, result.answer)
            self._answer = result.answer
        self._end_answer()
        if not self._answer.strip():
            self._err_line(Text(no_answer_note(self._thought), style="dim"))
        elif (note := cut_note(result)) is not None:
            self._err_line(Text(note, style="dim"))

    def interrupted(self, result: Result | None) -> None:
        """Keep what was written; write the best answer if none was; say so."""
        if self._err_mid_line:
            self._err_line(Text(""))
        if self._thinking_open and self.thinking == "show":
            self._err_line(Text(interrupted_thought_line(*self._last), style="dim"))
        if not self._answer.strip() and result is not None and result.answer.strip():
            self._err_line(Text(PARTIAL, style="dim"))
            _write(self.out, result.answer)
            self._answer = result.answer
        self._end_answer()
        self._err_line(Text(INTERRUPTED, style="dim"))

    def close(self) -> None:
        """Nothing to tear down."""

    def _end_thinking(self, seconds: float, tokens: int, reason: ThinkEnd) -> None:
        self._thinking_open = False
        if self.thinking != "show":
            return
        line = thought_line(seconds, tokens, reason)
        if line is not None:
            self._err_line(Text(line, style="dim"))
        elif self._err_mid_line:
            self._err_line(Text(""))

    def _end_answer(self) -> None:
        if self._answer and not self._answer.endswith("\n"):
            _write(self.out, "\n")
            self._answer += "\n"

    def _err_line(self, text: Text) -> None:
        """Print a whole line on stderr, first ending a trace left mid-line."""
        if self._err_mid_line:
            self.err.print()
            self._err_mid_line = False
        if text.plain:
            self.err.print(text, soft_wrap=True)


class JsonRenderer:
    """Prints the result as JSON at the end; meanwhile a spinner if stderr is a terminal.

    Args:
        out: The console for stdout; the JSON is written to it raw.
        err: The console for stderr (notices, "(interrupted)", the spinner).
        auto_refresh: Redraw the spinner from Rich's thread; False redraws on events (tests).
    """

    def __init__(self, *, out: Console, err: Console, auto_refresh: bool = True) -> None:
        self.out = out
        self.err = err
        self._spinner = Region(err, auto_refresh=auto_refresh) if err.is_terminal else None
        self._view = TraceView(label="Waiting for the model", max_lines=0)
        self._paths: dict[int, int] = {}

    def start(self) -> None:
        """A spinner on stderr (when it is a terminal), so a long run is not a blank screen."""
        self._paths = {}
        if self._spinner is not None:
            self._spinner.show(self._view)

    def reasoning(self, ev: TextEvent) -> None:
        """Collected by the strategy into the result; the spinner counts it."""
        self._view.label = "Thinking"
        self._view.update(text="", tokens=ev.thinking_tokens, elapsed_s=ev.elapsed_s, budget=ev.budget)
        self._refresh()

    def thinking_done(self, ev: ThinkingDone) -> None:
        """The spinner says the answer is being written."""
        self._view.label = "Answering"
        self._refresh()

    def answer(self, ev: TextEvent) -> None:
        """Collected by the strategy into the result, not drawn."""

    def progress(self, ev: Progress) -> None:
        """The spinner counts the paths and their tokens."""
        self._paths = {**self._paths, ev.sample: ev.thinking_tokens + ev.answer_tokens}
        self._view.label = f"Exploring {len(self._paths)} paths"
        self._view.update(text="", tokens=sum(self._paths.values()), elapsed_s=ev.elapsed_s)
        self._refresh()

    def explored(self, ev: Explored) -> None:
        """Not drawn."""

    def notice(self, ev: Notice) -> None:
        """One line on stderr."""
        if self._spinner is not None:
            with self._spinner.paused():
                self.err.print(Text(ev.text, style="yellow"), soft_wrap=True)
        else:
            self.err.print(Text(ev.text, style="yellow"), soft_wrap=True)

    def finish(self, result: Result) -> None:
        """Write the result as one JSON document."""
        self.close()
        self._dump(result.to_dict())

    def interrupted(self, result: Result | None) -> None:
        """Write the partial result, marked ``"interrupted": true``."""
        self.close()
        if result is not None:
            data = result.to_dict()
            data["interrupted"] = True
            self._dump(data)
        self.err.print(Text(INTERRUPTED, style="dim"))

    def close(self) -> None:
        """Take the spinner down."""
        if self._spinner is not None:
            self._spinner.close()

    def _refresh(self) -> None:
        if self._spinner is not None:
            self._spinner.refresh()

    def _dump(self, data: dict) -> None:
        _write(self.out, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
