"""What each chat command does to a ``Chat``: one small function per command.

``execute`` runs a parsed ``Command``; it returns False when the chat should end.
A command that cannot be done says why in one line (``CommandError``).
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import statistics
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rich.table import Table

from thinkcli.chat.commands import Command, CommandError, help_lines
from thinkcli.chat.sessions import Conversation, markdown, read_session, write_atomic
from thinkcli.render.recorded import print_trace
from thinkcli.render.shading import print_shaded
from thinkcli.runlog.store import StoreError

if TYPE_CHECKING:
    from thinkcli.chat.state import Chat


def execute(chat: Chat, cmd: Command) -> bool:
    """Run ``cmd``; False means leave the chat."""
    if cmd.name == "exit":
        return False
    _ACTIONS[cmd.name](chat, cmd)
    return True


def _help(chat: Chat, cmd: Command) -> None:
    for line in help_lines():
        chat.say(line, "")


def _knobs(chat: Chat, **changes: object) -> None:
    chat.session.knobs = replace(chat.session.knobs, **changes)


def _effort(chat: Chat, cmd: Command) -> None:
    if cmd.arg:
        if cmd.arg not in chat.settings.efforts:
            raise CommandError(f"unknown effort {cmd.arg!r}; choose one of: {', '.join(chat.settings.efforts)}")
        chat.session.settings = chat.settings.updated({"effort": cmd.arg})
        _knobs(chat, think_budget=None, min_think=None, samples=None, no_think=False)
    level = chat.session.level()
    spend = f"thinks up to {level.think_budget} tokens" if level.think_budget else "answers without thinking"
    paths = f"{level.samples} paths, {level.selection}" if level.samples > 1 else "1 path"
    chat.say(f"effort {level.name}: {spend}, {paths}", "")


def _think(chat: Chat, cmd: Command) -> None:
    if cmd.arg in ("on", "off"):
        _knobs(chat, no_think=cmd.arg == "off")
        chat.say(f"thinking {cmd.arg}", "")
        return
    chat.session.settings = chat.settings.updated({"thinking": cmd.arg})
    chat.say(f"reasoning display: {cmd.arg}", "")


def _budget(chat: Chat, cmd: Command) -> None:
    _knobs(chat, think_budget=cmd.number, no_think=False, min_think=None)
    chat.say(f"thinking budget {cmd.number} tokens" if cmd.number else "thinking off", "")


def _samples(chat: Chat, cmd: Command) -> None:
    _knobs(chat, samples=cmd.number)
    level = chat.session.level()
    chat.say(f"{level.samples} path(s), {level.selection}", "")


def _model(chat: Chat, cmd: Command) -> None:
    chat.say(f"loading {cmd.arg}…")
    chat.switch_model(cmd.arg)
    chat.first = 0
    chat.say(f"model {chat.session.engine.info.name}", "")


def _system(chat: Chat, cmd: Command) -> None:
    if not cmd.arg:
        chat.say(f"system prompt: {chat.conv.system!r}" if chat.conv.system else "no system prompt", "")
        return
    chat.conv.system = cmd.arg
    chat.session.settings = chat.settings.updated({"system": cmd.arg})
    chat.say("system prompt set for the next turns", "")


def _trace(chat: Chat, cmd: Command) -> None:
    """The last turn's reasoning as ``thinkcli trace`` prints it, from the run log when it is there."""
    last = _last(chat)
    if cmd.number is not None and cmd.number > max(1, len(last.paths)):
        raise CommandError(f"the last turn explored {len(last.paths)} path(s)")
    record = tokens = None
    confidence = "--confidence" in cmd.arg.split()
    if last.run is not None:
        try:
            record = chat.store.store().get(last.run)
            tokens = chat.store.store().tokens(last.run) if confidence and record is not None else None
        except StoreError as exc:
            chat.say(f"the run log cannot be read ({exc}); showing the turn as this chat keeps it", "yellow")
    if record is None:
        record = last.to_result().to_dict()
    if confidence:
        shown = print_shaded(record, tokens, chat.out, chat.err, path=cmd.number,
                             no_color=bool(chat.env.vars.get("NO_COLOR")))
    else:
        shown = print_trace(record, chat.out, path=cmd.number)
    if not shown:
        chat.say("no reasoning in that turn")


def _retry(chat: Chat, cmd: Command) -> None:
    _last(chat)
    chat.retry()


def _undo(chat: Chat, cmd: Command) -> None:
    last = _last(chat)
    chat.conv.exchanges.pop()
    chat.first = min(chat.first, len(chat.conv.exchanges))
    chat.store.truncate(chat.conv)
    chat.say(f"dropped: {last.question.splitlines()[0][:60]}")


def _copy(chat: Chat, cmd: Command) -> None:
    text = _last(chat).answer
    if not chat.env.stdout_isatty:  # the escape is for a terminal; a file or pipe would keep it as text
        raise CommandError("nothing copied: stdout is not a terminal (/copy asks the terminal, by OSC 52)")
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    chat.env.stdout.write(f"\x1b]52;c;{payload}\x07")
    chat.env.stdout.flush()
    chat.say(f"copied {len(text)} characters (OSC 52)")


def _clear(chat: Chat, cmd: Command) -> None:
    chat.restart(Conversation(name=chat.store.new_name(), system=chat.conv.system))
    chat.say("conversation cleared; the system prompt is kept")


def _stats(chat: Chat, cmd: Command) -> None:
    """Per turn, and for the session (sums of tokens; medians of ttft and speed)."""
    if not chat.conv.exchanges:
        chat.say("no turns yet")
        return
    table = Table("turn", "effort", "prompt", "evaluated", "reused", "thinking", "answer", "ttft s", "tok/s",
                  box=None, header_style="bold")
    totals = dict.fromkeys(("prompt_tokens", "prompt_eval_tokens", "thinking_tokens", "answer_tokens"), 0)
    for i, ex in enumerate(chat.conv.exchanges, 1):
        s = ex.stats
        for key in totals:
            totals[key] += s.get(key, 0)
        table.add_row(str(i), ex.effort, *_counts(s), f"{s.get('ttft_s', 0):.2f}", f"{s.get('decode_tok_per_s', 0):.1f}")
    ttft = statistics.median(ex.stats.get("ttft_s", 0) for ex in chat.conv.exchanges)
    speeds = [ex.stats.get("decode_tok_per_s", 0) for ex in chat.conv.exchanges if ex.stats.get("decode_tok_per_s")]
    speed = f"{statistics.median(speeds):.1f}" if speeds else ""
    table.add_row("all", "", *_counts(totals), f"{ttft:.2f}", speed, style="bold")
    chat.err.print(table)


def _counts(s: dict) -> list[str]:
    prompt, evaluated = s.get("prompt_tokens", 0), s.get("prompt_eval_tokens", 0)
    return [str(prompt), str(evaluated), str(max(0, prompt - evaluated)), str(s.get("thinking_tokens", 0)),
            str(s.get("answer_tokens", 0))]


def _edit(chat: Chat, cmd: Command) -> None:
    text = compose(chat.env.vars)
    if text.strip():
        chat.ask(text.strip())
    else:
        chat.say("nothing written; nothing sent")


def compose(env: dict, *, run: Callable = subprocess.run) -> str:
    """Open ``$VISUAL`` or ``$EDITOR`` (default vi) on an empty file; return what was written."""
    editor = env.get("VISUAL") or env.get("EDITOR") or "vi"
    fd, name = tempfile.mkstemp(suffix=".md")
    os.close(fd)
    try:
        try:
            done = run([*shlex.split(editor), name])
        except OSError as exc:
            raise CommandError(f"could not start the editor {editor!r}: {exc.strerror or exc}") from None
        if getattr(done, "returncode", 0) != 0:
            raise CommandError(f"the editor {editor!r} failed; nothing sent")
        return Path(name).read_text(encoding="utf-8", errors="replace")
    finally:
        Path(name).unlink(missing_ok=True)


def _save(chat: Chat, cmd: Command) -> None:
    if not cmd.arg:
        if not chat.store.write:
            chat.say("logging is off, so this session is not kept; /save FILE.json writes it to a file")
        else:
            chat.say(f"session {chat.conv.name} is kept after every turn in {chat.store.path}"
                     f" (thinkcli chat --session {chat.conv.name} resumes it)")
        return
    path = Path(cmd.arg).expanduser()
    if path.suffix == ".md":
        write_atomic(path, markdown(chat.conv))
    elif path.suffix == ".json":
        write_atomic(path, json.dumps(chat.conv.to_dict(), ensure_ascii=False, indent=1) + "\n")
    else:
        raise CommandError("/save FILE.md writes a transcript, /save FILE.json the session")
    chat.say(f"saved {path}")


def _load(chat: Chat, cmd: Command) -> None:
    conv = read_session(Path(cmd.arg).expanduser())  # an InputError keeps the current session
    chat.store.check_name(conv.name)
    chat.store.keep(conv)  # the loaded session, continued under its name
    chat.restart(conv)
    chat.session.settings = replace(chat.settings, system=conv.system)
    chat.say(f"loaded {conv.name}: {len(conv.exchanges)} exchange(s)")


def _last(chat: Chat):
    if not chat.conv.exchanges:
        raise CommandError("no exchange yet")
    return chat.conv.exchanges[-1]


_ACTIONS: dict[str, Callable[[Chat, Command], None]] = {
    "help": _help, "effort": _effort, "think": _think, "budget": _budget, "samples": _samples,
    "model": _model, "system": _system, "trace": _trace, "retry": _retry, "undo": _undo, "copy": _copy,
    "clear": _clear, "stats": _stats, "edit": _edit, "save": _save, "load": _load,
}
