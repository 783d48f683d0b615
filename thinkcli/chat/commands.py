"""The chat's slash commands: parsing, checking and completing them, without a terminal.

``parse`` turns a line into a ``Command`` or raises ``CommandError`` with a one-line
hint (an unknown command or bad argument never reaches the model); ``Completer``
completes command names and their arguments (effort levels, models, file paths).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from thinkcli.config import MAX_SAMPLES

THINK_CHOICES = ("show", "live", "hide", "on", "off")


@dataclass(frozen=True, slots=True)
class Spec:
    """One command: its argument's shape, what it does, and how its argument completes."""

    usage: str  # "" (no argument), "LEVEL", "[LEVEL]", ...
    help: str
    complete: str = ""  # "", "effort", "think", "model" or "path"


COMMANDS: dict[str, Spec] = {
    "help": Spec("", "this list"),
    "effort": Spec("[LEVEL]", "show the effort level and what it spends, or switch to LEVEL", "effort"),
    "think": Spec("show|live|hide|on|off", "show, fold or hide the reasoning; or turn thinking on or off", "think"),
    "budget": Spec("N", "thinking-token budget for the next turns (0: no thinking)"),
    "samples": Spec("N", "reasoning paths explored in parallel"),
    "model": Spec("NAME", "switch to another model (the conversation is kept)", "model"),
    "system": Spec("[TEXT]", "show the system prompt, or set it"),
    "trace": Spec("[N] [--confidence]", "the last turn's full reasoning, or path N's; --confidence shades each token"),
    "retry": Spec("", "ask the last question again with a new seed"),
    "undo": Spec("", "drop the last exchange"),
    "copy": Spec("", "copy the last answer to the clipboard (OSC 52, works over SSH)"),
    "clear": Spec("", "forget the conversation, keep the system prompt"),
    "stats": Spec("", "tokens and speed per turn and for the session"),
    "edit": Spec("", "compose the next question in $VISUAL or $EDITOR (also Ctrl-G)"),
    "save": Spec("[FILE]", "where the session is kept; FILE.md writes a transcript, FILE.json the session", "path"),
    "load": Spec("FILE", "load a saved session (.json)", "path"),
    "exit": Spec("", "leave (also Ctrl-D)"),
}
_OPTIONAL = {"effort", "system", "trace", "save"}


class CommandError(Exception):
    """A line that looks like a command but is not a valid one; the message is the hint."""


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command: its name and its argument ("" when none), plus a parsed number."""

    name: str
    arg: str = ""
    number: int | None = None


def is_command(line: str) -> bool:
    """A line is a command when it starts with one ``/`` followed by a letter."""
    text = line.strip()
    return len(text) > 1 and text[0] == "/" and text[1].isalpha()


def parse(line: str) -> Command:
    """Parse ``/name [argument]``; raises ``CommandError`` with a hint when it is not valid."""
    text = line.strip()
    name, _, arg = text[1:].partition(" ")
    name, arg = name.lower(), arg.strip()
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f"; did you mean /{close[0]}?" if close else ""
        raise CommandError(f"unknown command /{name}{hint} (/help lists them)")
    spec = COMMANDS[name]
    if not spec.usage and arg:
        raise CommandError(f"/{name} takes no argument")
    if spec.usage and not arg and name not in _OPTIONAL:
        raise CommandError(f"usage: /{name} {spec.usage}")
    if name == "think" and arg not in THINK_CHOICES:
        raise CommandError(f"usage: /think {spec.usage}")
    number = None
    if name == "trace":
        return _trace(arg)
    if name in ("budget", "samples") and arg:
        number = _number(name, arg, low=0 if name == "budget" else 1, high=MAX_SAMPLES if name == "samples" else None)
    return Command(name, arg, number)


def _trace(arg: str) -> Command:
    """``/trace [N] [--confidence]``, the flag anywhere."""
    words = arg.split()
    flags = [w for w in words if w.startswith("-")]
    rest = [w for w in words if not w.startswith("-")]
    unknown = [f for f in flags if f != "--confidence"]
    if unknown or len(rest) > 1:
        raise CommandError(f"usage: /trace {COMMANDS['trace'].usage}")
    number = _number("trace", rest[0], low=1, high=None) if rest else None
    return Command("trace", arg, number)


def _number(name: str, arg: str, *, low: int, high: int | None) -> int:
    try:
        value = int(arg)
    except ValueError:
        raise CommandError(f"/{name} needs a whole number, not {arg!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise CommandError(f"/{name} takes a number {bound}, not {value}")
    return value


def help_lines() -> list[str]:
    """One line per command, for ``/help``."""
    width = max(len(f"/{n} {s.usage}") for n, s in COMMANDS.items())
    lines = [f"  {f'/{n} {s.usage}'.ljust(width)}  {s.help}" for n, s in COMMANDS.items()]
    return lines + ['  """ … """  a question over several lines; Alt-Enter (Esc Enter) adds a newline',
                    "  Ctrl-C stops the turn in progress; Ctrl-D leaves"]


class CommandCompleter(Completer):
    """Tab completion of command names and their arguments.

    Args:
        efforts: the effort levels' names, looked up each time.
        models: the model names to offer, looked up each time.
    """

    def __init__(self, *, efforts: Callable[[], Iterable[str]], models: Callable[[], Iterable[str]]) -> None:
        self._efforts = efforts
        self._models = models
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/"):
            return
        name, space, arg = text[1:].partition(" ")
        if not space:
            for command in COMMANDS:
                if command.startswith(name.lower()):
                    yield Completion(f"/{command}", start_position=-len(text), display_meta=COMMANDS[command].help)
            return
        spec = COMMANDS.get(name.lower())
        if spec is None:
            return
        if spec.complete == "path":
            yield from self._paths.get_completions(Document(arg, len(arg)), complete_event)
            return
        choices = {"effort": self._efforts, "think": lambda: THINK_CHOICES, "model": self._models}.get(spec.complete)
        if choices is None:
            return
        for choice in choices():
            if choice.startswith(arg.strip()):
                yield Completion(choice, start_position=-len(arg.lstrip()))
