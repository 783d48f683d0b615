"""The Rich renderer for a terminal: a live thinking display, then Markdown.

Transient Live regions show what is in flight; what is final (summary lines,
finished answer blocks) is printed once, so the screen ends with each line once.
"""

from __future__ import annotations

from typing import Literal

from rich.console import Console
from rich.text import Text

from thinkcli.events import (
    Explored,
    Notice,
    Progress,
    Result,
    SampleResult,
    ThinkEnd,
    ThinkingDone,
)
from thinkcli.events import Text as TextEvent
from thinkcli.render.board import Board
from thinkcli.render.markdown_stream import AnswerTail, BlockSplitter, MarkdownBlock
from thinkcli.render.region import Region
from thinkcli.render.summary import (
    INTERRUPTED,
    PARTIAL,
    Thinking,
    cut_note,
    explored_line,
    interrupted_thought_line,
    no_answer_note,
    plural,
    thought_line,
)
from thinkcli.render.trace import MAX_TRACE_LINES, TraceView, tail_window

Phase = Literal["idle", "waiting", "thinking", "parallel", "answer", "over"]

# Enough trace characters to fill the live lines at any sane width. The kept
# text is cut only when twice this long, at a line start, so the wrapping of
# what is shown rarely shifts under the reader.
_TRACE_KEEP = MAX_TRACE_LINES * 400


class TerminalRenderer:
    """Draws a run on a terminal with Rich.

    Args:
        out: The console for stdout (a terminal).
        err: The console for stderr (notices, "(interrupted)").
        thinking: ``"live"`` shows the last lines of the trace while thinking,
            ``"show"`` prints the whole trace, ``"hide"`` only a spinner.
        refresh_per_second: How often live regions are redrawn.
        auto_refresh: Redraw from Rich's thread; False redraws on events (tests).
        hint: Said after the first folded line, dimmer (how to unfold it later,
            e.g. ``thinkcli trace``); ``hinted`` tells whether it was.
    """

    def __init__(
        self,
        *,
        out: Console,
        err: Console,
        thinking: Thinking = "live",
        refresh_per_second: float = 8.0,
        auto_refresh: bool = True,
        hint: str = "",
    ) -> None:
        self.out = out
        self.err = err
        self.thinking = thinking
        self.hint = hint
        self.hinted = False
        self._region = Region(out, refresh_per_second=refresh_per_second, auto_refresh=auto_refresh)
        self._reset()

    def _reset(self) -> None:
        self._phase: Phase = "idle"
        self._trace = TraceView()
        self._trace_text = ""  # live: the trace's end; show: its unfinished line
        self._thought = False
        self._last_tokens = 0
        self._last_elapsed = 0.0
        self._board = Board()
        self._splitter = BlockSplitter()
        self._tail = AnswerTail()
        self._trace_printed = False
        self._printed_answer = False

    # -- the Renderer protocol ---------------------------------------------

    def start(self) -> None:
        """Show a spinner until the first event says what kind of run this is."""
        self._region.close()
        self._reset()
        self._phase = "waiting"
        self._trace.label = "Waiting for the model"
        self._region.show(self._trace)

    def reasoning(self, ev: TextEvent) -> None:
        """Advance the thinking display by one piece of the trace."""
        if self._phase not in ("idle", "waiting", "thinking"):
            return
        if self._phase != "thinking":
            self._phase = "thinking"
            self._thought = True
            self._trace.label = "Thinking"
            self._region.show(self._trace)
        self._last_tokens, self._last_elapsed = ev.thinking_tokens, ev.elapsed_s
        if self.thinking == "show":
            self._print_finished_lines(ev.text)
        elif self.thinking == "live":
            self._trace_text += ev.text
            if len(self._trace_text) > 2 * _TRACE_KEEP:
                self._trace_text = tail_window(self._trace_text, _TRACE_KEEP)
        self._trace.update(text=self._trace_text, tokens=ev.thinking_tokens, elapsed_s=ev.elapsed_s, budget=ev.budget)
        self._region.refresh()

    def thinking_done(self, ev: ThinkingDone) -> None:
        """Collapse the thinking display into its summary line."""
        self._end_thinking(ev.seconds, ev.tokens, ev.reason)

    def answer(self, ev: TextEvent) -> None:
        """Stream a piece of the answer: finished blocks for good, the rest live."""
        if self._phase in ("idle", "waiting", "thinking"):
            self._end_thinking(self._last_elapsed, self._last_tokens, self._default_reason())
        elif self._phase == "parallel":
            self._region.close()
            self._begin_answer()
        if self._phase != "answer":
            return
        finished = self._splitter.feed(ev.text)
        # The tail first: printing a block redraws the region, which must not repeat it.
        self._tail.text = self._splitter.tail
        if finished is not None:
            self._print_block(finished)
        self._region.refresh()

    def progress(self, ev: Progress) -> None:
        """Update one path's line on the parallel board."""
        if self._phase not in ("idle", "waiting", "parallel"):
            return
        self._board.update(ev)
        if self._phase != "parallel":
            self._phase = "parallel"
            self._region.show(self._board)
        self._region.refresh()

    def explored(self, ev: Explored) -> None:
        """Replace the board with the vote's summary (and the traces with show)."""
        self._region.close()
        if self.thinking == "show":
            for index, sample in enumerate(ev.samples):
                self._print_sample(index, sample)
        self._thought = True
        self.out.print(self._folded(explored_line(ev)))
        self._begin_answer()

    def notice(self, ev: Notice) -> None:
        """One line on stderr; the live region steps aside while it is written."""
        with self._region.paused():
            self.err.print(Text(ev.text, style="yellow"))

    def finish(self, result: Result) -> None:
        """Print what is still live, and a note if there was no answer."""
        try:
            if self._phase in ("waiting", "thinking"):
                self._end_thinking(self._last_elapsed, self._last_tokens, self._default_reason())
            self._region.close()
            self._flush_answer()
            if not self._printed_answer:
                if result.answer.strip():
                    self._print_block(result.answer)
                else:
                    self.out.print(Text(no_answer_note(self._thought), style="dim"))
            note = cut_note(result)
            if note is not None and self._printed_answer:
                self.out.print(Text(note, style="dim"))
        finally:
            self._region.close()
            self._phase = "over"

    def interrupted(self, result: Result | None) -> None:
        """Keep what is on screen, add the best answer if none was printed."""
        try:
            self._region.close()
            self._fold_interrupted()
            self._flush_answer()
            if not self._printed_answer and result is not None and result.answer.strip():
                self.out.print(Text(PARTIAL, style="dim"))
                self._print_block(result.answer)
            self.err.print(Text(INTERRUPTED, style="dim"))
        finally:
            self._region.close()
            self._phase = "over"

    def close(self) -> None:
        """Erase any live region (after an error); print nothing."""
        self._region.close()

    # -- helpers --------------------------------------------------------------

    def _fold_interrupted(self) -> None:
        """Leave the summary line of the phase that Ctrl-C cut short."""
        if self._phase == "thinking":
            if self.thinking == "show" and self._trace_text.strip():
                self._print_trace_line(self._trace_text)
            self.out.print(Text(interrupted_thought_line(self._last_elapsed, self._last_tokens), style="dim"))
        elif self._phase == "parallel":
            rows = self._board.rows()
            tokens = sum(ev.thinking_tokens + ev.answer_tokens for ev in rows)
            line = f"▸ Explored {plural(len(rows), 'path')} · {plural(tokens, 'token')} {INTERRUPTED}"
            self.out.print(Text(line, style="dim"))

    def _default_reason(self) -> ThinkEnd:
        return "stop" if self._thought else "none"

    def _end_thinking(self, seconds: float, tokens: int, reason: ThinkEnd) -> None:
        if self._phase not in ("idle", "waiting", "thinking"):
            return
        self._region.close()
        if self.thinking == "show" and self._trace_text.strip():
            self._print_trace_line(self._trace_text)
        self._trace_text = ""
        line = thought_line(seconds, tokens, reason)
        if line is not None:
            self._thought = True
            self.out.print(self._folded(line))
        self._begin_answer()

    def _folded(self, line: str) -> Text:
        """The folded trace's line, with the hint the first time in a run."""
        text = Text(line, style="dim")
        if self.hint and not self.hinted:
            text.append(f" · {self.hint}", style="dim italic")
            self.hinted = True
        return text

    def _begin_answer(self) -> None:
        self._phase = "answer"
        self._region.show(self._tail)

    def _print_finished_lines(self, piece: str) -> None:
        *finished, self._trace_text = (self._trace_text + piece).split("\n")
        for line in finished:
            self._print_trace_line(line)

    def _print_trace_line(self, line: str) -> None:
        if not self._trace_printed and not line.strip():
            return  # traces often open with blank lines
        self._trace_printed = True
        self.out.print(Text(line, style="dim"))

    def _print_sample(self, index: int, sample: SampleResult) -> None:
        answer = sample.extracted if sample.extracted is not None else "no answer"
        header = f"── path {index + 1} · {answer} · confidence {sample.confidence:.2f}"
        self.out.print(Text(header, style="dim bold"), overflow="ellipsis", no_wrap=True)
        if sample.reasoning.strip():
            self.out.print(Text(sample.reasoning.strip("\n"), style="dim"))

    def _print_block(self, block: str) -> None:
        if self._printed_answer:
            self.out.print()  # the blank line Markdown puts between blocks
        self.out.print(MarkdownBlock(block))
        self._printed_answer = True

    def _flush_answer(self) -> None:
        rest = self._splitter.flush()
        self._tail.text = ""
        if rest.strip():
            self._region.close()
            self._print_block(rest)
