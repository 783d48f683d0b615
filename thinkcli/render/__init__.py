"""Renderers draw a run's events: Rich on a terminal, plain text on a pipe, or JSON.

``answer`` draws one turn and returns its result, owning Ctrl-C: the turn stops,
what was shown stays, and the partial result comes back marked interrupted.
``collect`` does the same without drawing; ``dispatch`` is the bare routing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal, Protocol

from rich.console import Console

from thinkcli.events import Done, Event, Explored, Notice, Progress, Result, Text, ThinkingDone
from thinkcli.render.plain import JsonRenderer, PlainRenderer
from thinkcli.render.summary import Thinking
from thinkcli.render.terminal import TerminalRenderer

Mode = Literal["terminal", "plain", "json"]

__all__ = ["Mode", "Renderer", "Thinking", "TurnEvents", "answer", "collect", "dispatch", "make_renderer"]


class TurnEvents(Protocol):
    """A turn's events, closable, with its partial result after Ctrl-C."""

    def __iter__(self) -> Iterator[Event]: ...

    def partial(self) -> Result:
        """What the turn produced so far, marked interrupted."""

    def close(self) -> None:
        """Stop the turn and release what it holds."""


class Renderer(Protocol):
    """What draws a run; one method per kind of event, plus the two endings."""

    def start(self) -> None:
        """A run begins."""

    def reasoning(self, ev: Text) -> None:
        """A piece of the streaming sample's reasoning."""

    def thinking_done(self, ev: ThinkingDone) -> None:
        """The streaming sample stopped thinking."""

    def answer(self, ev: Text) -> None:
        """A piece of the answer."""

    def progress(self, ev: Progress) -> None:
        """Where one parallel sample stands."""

    def explored(self, ev: Explored) -> None:
        """The parallel samples voted."""

    def notice(self, ev: Notice) -> None:
        """Something the user should know, on stderr."""

    def finish(self, result: Result) -> None:
        """The run ended normally."""

    def interrupted(self, result: Result | None) -> None:
        """Ctrl-C: keep what was printed; show the best answer if none was."""

    def close(self) -> None:
        """The run failed: take down any live display, print nothing."""


def _route(ev: Event, renderer: Renderer) -> None:
    if isinstance(ev, Text):
        if ev.kind == "reasoning":
            renderer.reasoning(ev)
        else:
            renderer.answer(ev)
    elif isinstance(ev, Progress):
        renderer.progress(ev)
    elif isinstance(ev, ThinkingDone):
        renderer.thinking_done(ev)
    elif isinstance(ev, Explored):
        renderer.explored(ev)
    elif isinstance(ev, Notice):
        renderer.notice(ev)
    else:
        raise TypeError(f"not a thinkcli event: {ev!r}")


def dispatch(events: Iterable[Event], renderer: Renderer) -> Result:
    """Draw ``events`` with ``renderer`` and return the run's result.

    Calls ``start()``, one method per event, then ``finish()`` with the result
    of the ``Done`` event. If anything but KeyboardInterrupt escapes, the
    renderer is ``close()``d first so no live display is left on screen.

    Args:
        events: A run's event stream, ending with ``Done``.
        renderer: What draws it.

    Returns:
        The ``Done`` event's result.

    Raises:
        RuntimeError: The stream ended without a ``Done`` event.
    """
    renderer.start()
    try:
        for ev in events:
            if isinstance(ev, Done):
                renderer.finish(ev.result)
                return ev.result
            _route(ev, renderer)
        raise RuntimeError("the event stream ended without a Done event")
    except Exception:
        renderer.close()
        raise


def answer(turn: TurnEvents, renderer: Renderer) -> Result:
    """Draw one turn and return its result; Ctrl-C ends the turn, not the caller.

    On KeyboardInterrupt the turn is closed, the renderer keeps what it showed
    (``interrupted``) and the partial result is returned with ``interrupted`` set.
    The turn is closed in every case.
    """
    try:
        try:
            return dispatch(turn, renderer)
        except KeyboardInterrupt:
            turn.close()
            result = turn.partial()
            renderer.interrupted(result)
            return result
    finally:
        turn.close()


def collect(events: Iterable[Event] | TurnEvents) -> Result:
    """The result of a turn (or any event stream), drawing nothing.

    A turn stopped by Ctrl-C gives its partial result, marked interrupted;
    a bare stream lets the KeyboardInterrupt through.
    """
    stream = iter(events)
    try:
        for ev in stream:
            if isinstance(ev, Done):
                return ev.result
        raise RuntimeError("the event stream ended without a Done event")
    except KeyboardInterrupt:
        if not hasattr(events, "partial"):
            raise
        events.close()
        return events.partial()
    finally:
        close = getattr(events, "close", None) or getattr(stream, "close", None)
        if close is not None:
            close()


def make_renderer(*, mode: Mode, thinking: Thinking, out: Console, err: Console, hint: str = "") -> Renderer:
    """Build the renderer for where stdout goes.

    Args:
        mode: ``"terminal"`` (Rich live display and Markdown), ``"plain"``
            (raw answer text) or ``"json"`` (one document at the end).
        thinking: ``"live"``, ``"show"`` or ``"hide"`` (ignored by JSON).
        out: The console for stdout.
        err: The console for stderr.
        hint: Said once after the folded trace on a terminal (how to unfold it).

    Returns:
        A renderer to hand to ``dispatch``.
    """
    if mode == "terminal":
        return TerminalRenderer(out=out, err=err, thinking=thinking, hint=hint)
    if mode == "plain":
        return PlainRenderer(out=out, err=err, thinking=thinking)
    if mode == "json":
        return JsonRenderer(out=out, err=err)
    raise ValueError(f"unknown render mode {mode!r}")
