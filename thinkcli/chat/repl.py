"""``thinkcli chat``: a loop of turns on one loaded model, read with prompt-toolkit.

``Chat`` holds the session and the conversation, and runs one turn per question
(rendered by ``render.answer``, recorded in the run log after each). Ctrl-C ends a turn;
Ctrl-C at the prompt says how to leave; Ctrl-D or ``/exit`` leaves.
"""

from __future__ import annotations

import os
import random
from dataclasses import replace
from typing import Callable

from rich.console import Console

from thinkcli import planner
from thinkcli.chat.commands import CommandCompleter, CommandError, is_command, parse
from thinkcli.chat.sessions import Conversation, Exchange, SessionStore
from thinkcli.config import Settings, data_dir
from thinkcli.env import Environment
from thinkcli.errors import ExitStatus, ThinkError
from thinkcli.history import Recorder, plan_dict
from thinkcli.render import answer, make_renderer
from thinkcli.session import Knobs, Opener, Session, configured_levels, preset_for
from thinkcli.store import RunRecord, now
from thinkcli.tune.levels import ModelLevels

PROMPT = ">>> "
MORE = "... "
FENCE = '"""'
LEAVE_HINT = "(Ctrl-D or /exit to leave)"


class Chat:
    """One chat: the loaded session, the conversation and where it is kept.

    Args:
        env: the process environment.
        session: the loaded model.
        conv: the conversation (new, resumed or named).
        store: the sessions (in the run log).
        opener: how to load a model (for ``/model``).
        recorder: where each turn is recorded, as a run of the session.
    """

    def __init__(self, env: Environment, session: Session, conv: Conversation, store: SessionStore,
                 opener: Opener, recorder: Recorder) -> None:
        self.env = env
        self.out = env.out_console()
        self.err = env.err_console()
        self.session = session
        self.conv = conv
        self.store = store
        self.opener = opener
        self.recorder = recorder
        self.first = 0  # exchanges before this one no longer fit the context: not sent

    @property
    def settings(self) -> Settings:
        return self.session.settings

    def say(self, text: str, style: str = "dim") -> None:
        """One line for the user on stderr."""
        self.err.print(text, style=style, highlight=False, markup=False, soft_wrap=True)

    def ask(self, question: str, *, seed: int | None = None) -> Exchange:
        """Run one turn on ``question``; the exchange is kept (even interrupted) and recorded."""
        self.session.fit(self.session.level())  # /effort may have asked for more than was loaded
        messages = self._fit(question)
        plan = self.session.plan(messages)
        if seed is not None:
            plan = replace(plan, seed=seed)
        mode = "terminal" if self.env.stdout_isatty else "plain"
        hint = "/trace" if mode == "terminal" and self.recorder.hint_wanted() else ""
        renderer = make_renderer(mode=mode, thinking=self.settings.thinking, out=self.out, err=self.err, hint=hint)
        started = now()
        result = answer(self.session.turn(messages, plan), renderer)
        exchange = Exchange.from_result(question, result)
        self.conv.exchanges.append(exchange)
        run = RunRecord("chat", question, result, started, system=self.conv.system, plan=plan_dict(plan),
                        session=self.conv.name, turn=len(self.conv.exchanges) - 1)
        exchange.run = self.recorder.record(run, hinted=getattr(renderer, "hinted", False),
                                            session_system=self.conv.system)
        return exchange

    def _fit(self, question: str) -> list[dict]:
        """The turn's messages; the oldest exchanges go once the prompt passes half the context."""
        level = self.session.level()
        limit = planner.positions(self.session.engine.info) // 2
        skip = self.first
        while True:
            messages = self.conv.messages(question, skip=skip, chat_template=self.session.engine.info.chat_template)
            if skip >= len(self.conv.exchanges) or self.session.prompt_tokens(messages, level) <= limit:
                break
            skip += 1
        if skip > self.first:
            dropped = skip - self.first
            self.say(f"the conversation outgrew the {planner.positions(self.session.engine.info)}-token context: "
                     f"the oldest {dropped} exchange(s) are no longer sent to the model", "yellow")
            self.first = skip
        return messages

    def retry(self) -> None:
        """Ask the last question again with a new seed, in place of its exchange."""
        last = self.conv.exchanges.pop()
        first = self.first
        self.first = min(self.first, len(self.conv.exchanges))
        try:
            self.ask(last.question, seed=random.randrange(2**31))
        except ThinkError:
            self.conv.exchanges.append(last)  # a retry that fails keeps the exchange it would replace
            self.first = first
            raise

    def switch_model(self, name: str) -> None:
        """Load ``name`` and drop the current model; if it fails to load, the current one stays."""
        settings = self.settings.updated({"model": name})
        knobs = self.session.knobs
        fresh = open_session(settings, knobs, self.opener, self.err, ModelLevels(self.env.vars))
        self.session.close()
        self.session = fresh

    def restart(self, conv: Conversation) -> None:
        """Continue with ``conv`` (loaded or cleared)."""
        self.conv = conv
        self.first = 0


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


def open_session(settings: Settings, knobs: Knobs, opener: Opener, err, model_levels: ModelLevels | None = None) -> Session:
    """A chat's session: its context sized for the current level at full budget (``/effort``
    remakes it where a level needs more), with room for the paths of any level (which costs
    nothing measurable: see benchmarks/capacity.py). With ``model_levels``, the levels are
    the model's (its profile, or the built-in table for its kind)."""
    if model_levels is not None:
        settings = model_levels.before_load(settings)
    most = max(planner.capacity([level]).seqs for level in configured_levels(settings, knobs))
    return Session.open(settings, knobs, opener, err, levels=[preset_for(settings, knobs)], seqs=most,
                        model_levels=model_levels)


def run_chat(env: Environment, settings: Settings, knobs: Knobs, opener: Opener, *,
             resume: bool = False, name: str | None = None) -> ExitStatus:
    """Hold a conversation until Ctrl-D or ``/exit``; returns the exit status."""
    from thinkcli.chat.actions import execute

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
