"""``thinkcli chat``: a loop of turns on one loaded model, read with prompt-toolkit.

The loop reads a question (or a slash command, done by ``actions.py``) and hands it to
the ``Chat`` (``state.py``). Ctrl-C ends a turn; Ctrl-C at the prompt says how to leave;
Ctrl-D or ``/exit`` leaves.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable

from rich.console import Console

from thinkcli.chat.actions import execute
from thinkcli.chat.commands import CommandCompleter, CommandError, is_command, parse
from thinkcli.chat.sessions import Conversation, SessionStore
from thinkcli.chat.state import Chat, open_session
from thinkcli.config import Settings, data_dir
from thinkcli.env import Environment
from thinkcli.errors import ExitStatus, ThinkError
from thinkcli.runlog.recorder import Recorder
from thinkcli.session import Knobs, Opener
from thinkcli.tune.levels import ModelLevels

PROMPT = ">>> "
MORE = "... "
FENCE = '"""'
LEAVE_HINT = "(Ctrl-D or /exit to leave)"


class LineReader:
    """Questions from a pipe, one line each (for scripts and tests); no prompt."""

    def __init__(self, env: Environment) -> None:
        self._lines = iter(env.stdin.read().decode("utf-8-sig", errors="replace").splitlines())

    def __call__(self, prompt: str) -> str:
        try:
            return next(self._lines)
        except StopIteration:
            raise EOFError from None


def terminal_reader(chat: Chat) -> Callable[[str], str]:
    """prompt-toolkit input: history, Ctrl-R, suggestions, completion, Alt-Enter, Ctrl-G."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings

    from thinkcli.load import model_store
    from thinkcli.models.catalog import CATALOG

    history = InMemoryHistory()
    if chat.settings.history:
        path = data_dir(chat.env.vars) / "history"
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
        history = FileHistory(str(path))
    keys = KeyBindings()

    @keys.add("escape", "enter")
    def _newline(event) -> None:
        event.current_buffer.insert_text("\n")

    @keys.add("c-g")
    def _edit(event) -> None:
        event.current_buffer.open_in_editor(validate_and_handle=True)

    def models() -> list[str]:
        local = [m.ref for m in model_store(chat.env.vars).list()]
        return list(dict.fromkeys(local + list(CATALOG)))

    completer = CommandCompleter(efforts=lambda: chat.settings.efforts, models=models)
    prompt = PromptSession(history=history, auto_suggest=AutoSuggestFromHistory(), completer=completer,
                           key_bindings=keys, enable_history_search=False, complete_while_typing=False)
    return lambda text: prompt.prompt(text)


def read_question(read: Callable[[str], str]) -> str:
    """One input: a line, or everything between a pair of triple quotes."""
    line = read(PROMPT)
    if not line.strip().startswith(FENCE):
        return line
    text = line.strip()[len(FENCE):]
    if text.rstrip().endswith(FENCE):
        return text.rstrip()[: -len(FENCE)]
    parts = [text] if text else []
    while True:
        more = read(MORE)
        if more.rstrip().endswith(FENCE):
            parts.append(more.rstrip()[: -len(FENCE)])
            return "\n".join(parts).strip("\n")
        parts.append(more)


def open_conversation(store: SessionStore, settings: Settings, *, resume: bool, name: str | None,
                      say: Callable[[str], None]) -> Conversation:
    """The last session (``--continue``), a named one (``--session``), or a new one."""
    if resume:
        last = store.last()
        if last is not None:
            return last
        say("no saved session to continue; starting a new one")
    if name:
        return store.open(name)
    return Conversation(name=store.new_name(), system=settings.system)


def run_chat(env: Environment, settings: Settings, knobs: Knobs, opener: Opener, *,
             resume: bool = False, name: str | None = None) -> ExitStatus:
    """Hold a conversation until Ctrl-D or ``/exit``; returns the exit status."""
    err = env.err_console()
    recorder = Recorder(env, enabled=settings.log)
    store = SessionStore(recorder.path, data_dir(env.vars) / "sessions", write=settings.log)
    conv = open_conversation(store, settings, resume=resume, name=name,
                             say=lambda text: err.print(text, style="dim", markup=False))
    if settings.system:  # given now (flag, environment or config): it wins over the saved one
        conv.system = settings.system
    settings = replace(settings, system=conv.system)
    session = open_session(settings, knobs, opener, err, ModelLevels(env.vars))
    chat = Chat(env, session, conv, store, opener, recorder)
    try:
        read = terminal_reader(chat) if env.stdin_isatty and env.stdout_isatty else LineReader(env)
        _greet(chat, err)
        while True:
            try:
                line = read_question(read)
            except KeyboardInterrupt:
                chat.say(LEAVE_HINT)
                continue
            except EOFError:
                break
            if not line.strip():
                continue
            try:
                if is_command(line):
                    if not execute(chat, parse(line)):
                        break
                else:
                    chat.ask(line)
            except CommandError as exc:
                chat.say(str(exc), "yellow")
            except ThinkError as exc:
                chat.say(f"error: {exc}", "red")
            except KeyboardInterrupt:
                chat.say("(interrupted)")
    finally:
        chat.session.close()
        recorder.close()
        store.close()
    return ExitStatus.OK


def _greet(chat: Chat, err: Console) -> None:
    level = chat.session.level()
    chat.say(f"thinkcli chat · {chat.session.engine.info.name} · effort {level.name} · "
             f"session {chat.conv.name} · /help for commands, Ctrl-D to leave")
    if chat.conv.exchanges:
        last = chat.conv.exchanges[-1]
        chat.say(f"resumed {len(chat.conv.exchanges)} exchange(s); last question: {last.question.splitlines()[0][:80]}")
