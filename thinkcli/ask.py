"""``thinkcli ask``: read the question, plan the effort, run it, render it.

The question comes from the argument, piped stdin and ``--file``; the plan
turns an effort level and flags into budgets that fit the model's context.
"""

from __future__ import annotations

import random
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from thinkcli.config import EffortPreset, Settings, data_dir
from thinkcli.engine import Engine, Sampling
from thinkcli.env import Environment
from thinkcli.errors import ContextOverflowError, ExitStatus, InputError, UsageError
from thinkcli.events import Notice
from thinkcli.models.catalog import DEFAULT_MODEL
from thinkcli.reasoning import detect_format
from thinkcli.render import dispatch, make_renderer
from thinkcli.strategies import STRATEGIES, Budget, Plan, Run, partial, paths_at_once
from thinkcli.strategies.prompt import build_prompt

SUGGESTED_MODEL = "qwen3-1.7b"  # named to users of the demo model: small, and it really reasons
ANSWER_RESERVE = 256  # answer tokens each path keeps when its thinking budget is clamped
PROMPT_ALLOWANCE = 1024  # prompt tokens a level's context is sized for before the prompt is known
MAX_SIZED_CTX = 32768  # the largest context sized for a level unasked (its memory grows with it)


@dataclass(frozen=True, slots=True)
class Knobs:
    """What the user asked of this run beyond ``Settings``: effort overrides and output.

    Args:
        think_budget: ``--think-budget``, overriding the level's.
        min_think: ``--min-think``.
        samples: ``--samples``.
        no_think: ``--no-think``: thinking off, whatever the level says.
        temperature_given: ``--temperature`` (or its variable) was set, so a level's
            own temperature does not apply.
        json: print one JSON object.
        debug: let llama.cpp's log through.
    """

    think_budget: int | None = None
    min_think: int | None = None
    samples: int | None = None
    no_think: bool = False
    temperature_given: bool = False
    json: bool = False
    debug: bool = False


def read_question(env: Environment, question: str | None, files: list[Path], *, stdin: bool = True) -> str:
    """The problem text: the files and piped stdin as context, then the question.

    Several files are each headed by their name so the model can tell them apart.
    Standard input is read when it is not a terminal, unless ``stdin`` is False.
    """
    parts = [_read_file(path) for path in files]
    if len(files) > 1:
        parts = [f"File {path.name}:\n{text}" for path, text in zip(files, parts)]
    if stdin and not env.stdin_isatty:
        piped = _decode(env.read_stdin(), "standard input")
        parts.append(piped)
    parts.append(question or "")
    parts = [part.strip() for part in parts if part.strip()]
    if not parts:
        raise UsageError("no question: give one as an argument, pipe it in, or use --file")
    return "\n\n".join(parts)


def _read_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    return _decode(data, str(path))


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where} is not UTF-8 text (byte {exc.start})") from None


def preset_for(settings: Settings, knobs: Knobs) -> EffortPreset:
    """The effort level with ``--think-budget``, ``--min-think`` and ``--samples`` applied."""
    level = settings.preset()
    budget = 0 if knobs.no_think else (knobs.think_budget if knobs.think_budget is not None else level.think_budget)
    samples = knobs.samples or level.samples
    selection = level.selection
    if samples > 1 and selection == "single":
        selection = "vote"
    elif samples == 1 and selection != "single":
        selection = "single"
    if knobs.min_think is None:
        min_think = min(level.min_think, budget)  # a level's own minimum yields to --think-budget
    elif budget and knobs.min_think > budget:
        raise UsageError(f"--min-think {knobs.min_think} is more than the thinking budget {budget}")
    else:
        min_think = knobs.min_think
    return EffortPreset(level.name, budget, min_think, samples, selection, level.temperature)


def context_for(level: EffortPreset) -> int:
    """The context a level's paths need at full budget: at least 8192, at most ``MAX_SIZED_CTX``.

    The engine takes it only as far as the model's trained context allows; the plan
    still clamps budgets to what it got.
    """
    at_once = paths_at_once(level.selection, level.samples)
    need = at_once * (level.think_budget + ANSWER_RESERVE + 64) + PROMPT_ALLOWANCE
    return max(8192, min(MAX_SIZED_CTX, -(-need // 1024) * 1024))


def make_plan(
    settings: Settings, knobs: Knobs, level: EffortPreset, engine: Engine, prompt_tokens: int, notice: Callable[[str], None]
) -> Plan:
    """Turn a level into budgets that fit the context, and sampling with a seed."""
    temperature = settings.temperature
    if level.temperature is not None and not knobs.temperature_given:
        temperature = level.temperature
    if level.samples > 1 and temperature <= 0:
        notice(f"temperature 0 makes all {level.samples} paths the same; sampling at 0.6 instead")
        temperature = 0.6
    _note_context(settings.ctx, engine.info, notice)
    wrap_up = engine.count_tokens(settings.wrap_up) + 8
    at_once = paths_at_once(level.selection, level.samples)
    if prompt_tokens + at_once >= engine.info.n_ctx:
        raise ContextOverflowError(
            f"the prompt is {prompt_tokens} tokens but the context holds {engine.info.n_ctx} "
            "(shorten the input or raise --ctx)"
        )
    share = (engine.info.n_ctx - prompt_tokens) // at_once
    think = level.think_budget
    if think > 0 and think + wrap_up + ANSWER_RESERVE > share:
        think = share - wrap_up - ANSWER_RESERVE
        if think < 16:
            raise ContextOverflowError(
                f"the {engine.info.n_ctx}-token context leaves no room to think "
                f"for {at_once} path(s); raise --ctx or lower --samples"
            )
        # Said when the user sized things (or debugs): a level's own budget that the
        # default context cannot hold would otherwise warn on every run.
        if knobs.debug or knobs.think_budget is not None or knobs.samples is not None or settings.ctx is not None:
            per = " per path" if at_once > 1 else ""
            notice(f"thinking budget clamped to {think} tokens{per} to fit the {engine.info.n_ctx}-token context (raise --ctx)")
    budget = Budget(
        think=think,
        min_think=min(level.min_think, think),
        max_answer=settings.max_tokens,
        wrap_up=settings.wrap_up,
        continuations=settings.continuations,
    )
    return Plan(
        effort=level.name,
        selection=level.selection,
        samples=level.samples,
        budget=budget,
        thinking=think > 0,
        sampling=Sampling(temperature, settings.top_p, settings.top_k),
        seed=settings.seed if settings.seed is not None else random.randrange(2**31),
    )


def _note_context(asked: int | None, info, notice: Callable[[str], None]) -> None:
    """Say when ``--ctx`` was not taken as given, or goes past what the model was trained on."""
    if asked is None:
        return
    if info.n_ctx != asked:
        notice(f"--ctx {asked} became {info.n_ctx} tokens (llama.cpp's limits)")
    if info.n_ctx_train and info.n_ctx > info.n_ctx_train:
        notice(
            f"--ctx {info.n_ctx} is more than the {info.n_ctx_train} tokens {info.name} was trained on; "
            "answers may degrade past that"
        )


def run_ask(env: Environment, settings: Settings, knobs: Knobs, question: str, open_engine) -> ExitStatus:
    """Answer ``question`` once and render it; returns the exit status."""
    err = env.err_console()
    out = env.out_console()
    mode = "json" if knobs.json else ("terminal" if env.stdout_isatty else "plain")
    renderer = make_renderer(mode=mode, thinking=settings.thinking, out=out, err=err)
    level = preset_for(settings, knobs)
    engine = open_engine(
        settings, err, n_seq_max=paths_at_once(level.selection, level.samples), debug=knobs.debug,
        want_ctx=context_for(level),
    )
    try:
        notices: list[str] = []
        if engine.info.chat_template is None:
            notices.append("the model has no chat template; using ChatML")
        fmt = detect_format(engine.info.chat_template, settings.reasoning_format)
        messages = ([{"role": "system", "content": settings.system}] if settings.system else []) + [
            {"role": "user", "content": question}
        ]
        # Size budgets from the text that is really decoded: the prompted format adds
        # an instruction and a prefill to the rendered conversation.
        prompt, _ = build_prompt(engine, fmt, messages, thinking=level.think_budget > 0)
        plan = make_plan(settings, knobs, level, engine, engine.count_tokens(prompt), notices.append)
        run = Run(engine, messages, plan, fmt)
        # The event stream is closed before the engine: a suspended strategy still holds
        # a batch whose cleanup calls into the llama.cpp context.
        with closing(_with_notices(notices, STRATEGIES[plan.selection](run))) as events:
            try:
                dispatch(events, renderer)
            except KeyboardInterrupt:
                events.close()
                renderer.interrupted(partial(run))
                return ExitStatus.INTERRUPTED
        if env.stdout_isatty:
            note_demo_model(env, settings.model, err)
        return ExitStatus.OK
    finally:
        engine.close()


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


def _with_notices(notices: list[str], events):
    for text in notices:
        yield Notice(text)
    yield from events
