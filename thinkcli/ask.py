"""``thinkcli ask``: read the question, then answer it in one rendered turn.

The question comes from the argument, piped stdin and ``--file``; the session
(``thinkcli.session``) plans and runs the turn, ``render.answer`` draws it.
"""

from __future__ import annotations

from pathlib import Path

from thinkcli.config import Settings, data_dir
from thinkcli.env import Environment
from thinkcli.errors import ExitStatus, InputError, UsageError
from thinkcli.runlog.recorder import Recorder, plan_dict
from thinkcli.models.catalog import DEFAULT_MODEL
from thinkcli.preview import print_prompt
from thinkcli.render import answer, make_renderer
from thinkcli.session import Knobs, Opener, Session, preset_for
from thinkcli.runlog.record import RunRecord, now
from thinkcli.tune.levels import ModelLevels

SUGGESTED_MODEL = "qwen3-1.7b"  # named to users of the demo model: small, and it really reasons


def read_question(env: Environment, question: str | None, files: list[Path], *, stdin: bool = True) -> str:
    """The problem text: the files and piped stdin as context, then the question.

    Several files are each headed by their name so the model can tell them apart.
    Standard input is read when it is not a terminal, unless ``stdin`` is False.
    """
    parts = [read_text(path) for path in files]
    if len(files) > 1:
        parts = [f"File {path.name}:\n{text}" for path, text in zip(files, parts)]
    if stdin and not env.stdin_isatty:
        piped = decode_text(env.read_stdin(), "standard input")
        parts.append(piped)
    parts.append(question or "")
    parts = [part.strip() for part in parts if part.strip()]
    if not parts:
        raise UsageError("no question: give one as an argument, pipe it in, or use --file")
    return "\n\n".join(parts)


def read_text(path: Path) -> str:
    """A file the user named, as text; a missing, unreadable or non-UTF-8 one is an ``InputError``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    return decode_text(data, str(path))


def decode_text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where} is not UTF-8 text (byte {exc.start})") from None


def run_ask(env: Environment, settings: Settings, knobs: Knobs, question: str, opener: Opener) -> ExitStatus:
    """Answer ``question`` in one rendered turn; returns the exit status (130 after Ctrl-C)."""
    model_levels = ModelLevels(env.vars)
    settings = model_levels.before_load(settings)
    if knobs.print_prompt:
        return print_prompt(env, settings, preset_for(settings, knobs), question, json_out=knobs.json)
    err = env.err_console()
    mode = "json" if knobs.json else ("terminal" if env.stdout_isatty else "plain")
    recorder = Recorder(env, enabled=settings.log)
    hint = "thinkcli trace" if mode == "terminal" and recorder.hint_wanted() else ""
    renderer = make_renderer(mode=mode, thinking=settings.thinking, out=env.out_console(), err=err, hint=hint)
    started = now()
    with Session.open(settings, knobs, opener, err, levels=[preset_for(settings, knobs)],
                      model_levels=model_levels) as session:
        messages = session.messages(question)
        plan = session.plan(messages, session.level())
        result = answer(session.turn(messages, plan), renderer)
    run = RunRecord("ask", question, result, started, system=settings.system, plan=plan_dict(plan))
    recorder.record(run, hinted=getattr(renderer, "hinted", False))
    recorder.close()
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    if env.stdout_isatty:
        note_demo_model(env, settings.model, err)
    return ExitStatus.OK


def note_demo_model(env: Environment, model: str, err) -> None:
    """Once per data directory: the default model is a demo; say how to get a real one."""
    if model != DEFAULT_MODEL:
        return
    marker = data_dir(env.vars) / ".demo-model-noted"
    if marker.exists():
        return
    err.print(
        f"[dim]{DEFAULT_MODEL} is a 135M-parameter demo that rarely reasons well. For a real "
        f"reasoning model: thinkcli pull {SUGGESTED_MODEL} && thinkcli ask -m {SUGGESTED_MODEL} …[/dim]",
        highlight=False,
    )
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # then the note comes again next time; not worth an error
