"""A loaded model and what one conversation needs to run turns on it.

``Session`` owns the engine, the settings, the detected reasoning format and the
engine's cache; ``plan`` sizes a turn's budgets, ``turn`` runs it as a ``Turn``.
A turn never closes the engine or exits the process: its caller decides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator

from rich.console import Console

from thinkcli.config import EffortPreset, Settings
from thinkcli.engine import Engine, ModelInfo, Sampling
from thinkcli.errors import ContextOverflowError, UsageError
from thinkcli.events import Event, Notice, Result
from thinkcli.reasoning import ReasoningFormat, detect_format
from thinkcli.strategies import STRATEGIES, Budget, Plan, Run, partial, paths_at_once
from thinkcli.strategies.prompt import build_prompt

ANSWER_RESERVE = 256  # answer tokens each path keeps when its thinking budget is clamped
PROMPT_ALLOWANCE = 1024  # prompt tokens a level's context is sized for before the prompt is known
MAX_SIZED_CTX = 32768  # the largest context sized for a level unasked (its memory grows with it)
Opener = Callable[..., Engine]  # open_engine(settings, err, *, n_seq_max, debug, want_ctx) -> Engine


@dataclass(frozen=True, slots=True)
class Knobs:
    """What the user asked of a run beyond ``Settings``: effort overrides and output.

    Args:
        think_budget: ``--think-budget``, overriding the level's.
        min_think: ``--min-think``.
        samples: ``--samples``.
        no_think: ``--no-think``: thinking off, whatever the level says.
        temperature_given: ``--temperature`` (or its variable) was set, so a level's
            own temperature does not apply.
        json: print one JSON object.
        debug: let llama.cpp's log through.
        print_prompt: print the prompt that would be decoded and generate nothing.
    """

    think_budget: int | None = None
    min_think: int | None = None
    samples: int | None = None
    no_think: bool = False
    temperature_given: bool = False
    json: bool = False
    debug: bool = False
    print_prompt: bool = False


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


def largest_capacity(settings: Settings, knobs: Knobs) -> int:
    """The most paths any configured level (or ``--samples``) runs at once.

    A context sized for this lets effort and samples change mid-session without
    recreating it: with one unified KV cache, room for more sequences costs nothing
    measurable (see benchmarks/capacity.py).
    """
    most = max(paths_at_once(level.selection, level.samples) for level in settings.efforts.values())
    return max(most, knobs.samples or 1)


def one_question(question: str, system: str = "") -> list[dict]:
    """The messages that ask ``question`` alone, after ``system`` if there is one."""
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]


def model_format(info: ModelInfo, override: str = "auto") -> ReasoningFormat:
    """The reasoning format for a model: detected from its template, or ``override``.

    A completion prompt chosen for a base model ends in an answer cue, which shapes both.
    """
    cue = info.fallback is not None and info.fallback.family.answer_cue
    return detect_format(info.chat_template, override, answer_cue=cue)


def template_note(info: ModelInfo) -> str | None:
    """What to say, once, about a model that brought no chat template (None: it did)."""
    if info.fallback is not None:
        return info.fallback.note(info.name)
    return "the model has no chat template; using ChatML" if info.chat_template is None else None


def context_for(level: EffortPreset) -> int:
    """The context a level's paths need at full budget: at least 8192, at most ``MAX_SIZED_CTX``.

    The engine takes it only as far as the model's trained context allows; the plan
    still clamps budgets to what it got.
    """
    at_once = paths_at_once(level.selection, level.samples)
    need = at_once * (level.think_budget + ANSWER_RESERVE + 64) + PROMPT_ALLOWANCE
    return max(8192, min(MAX_SIZED_CTX, -(-need // 1024) * 1024))


def make_plan(
    settings: Settings, knobs: Knobs, level: EffortPreset, engine: Engine, prompt_tokens: int,
    notice: Callable[[str], None], *, questions: int = 1,
) -> Plan:
    """Turn a level into budgets that fit the context, and sampling with a seed.

    ``questions`` decoding side by side (``thinkcli batch --parallel``) each get their
    share of the context, answers included.
    """
    temperature = settings.temperature
    if level.temperature is not None and not knobs.temperature_given:
        temperature = level.temperature
    if level.samples > 1 and temperature <= 0:
        notice(f"temperature 0 makes all {level.samples} paths the same; sampling at 0.6 instead")
        temperature = 0.6
    _note_context(settings.ctx, engine.info, notice)
    wrap_up = engine.count_tokens(settings.wrap_up) + 8
    paths = paths_at_once(level.selection, level.samples)
    at_once = paths * questions
    if prompt_tokens + at_once >= engine.info.n_ctx // questions:
        raise ContextOverflowError(
            f"the prompt is {prompt_tokens} tokens but the context holds {engine.info.n_ctx}"
            + (f" shared by {questions} questions" if questions > 1 else "")
            + " (shorten the input or raise --ctx)"
        )
    share = (engine.info.n_ctx // questions - prompt_tokens) // paths
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
    max_answer = settings.max_tokens
    if questions > 1:  # a runaway answer must not take its neighbours' room
        max_answer = max(16, min(max_answer, share - max(think, 0) - (wrap_up if think > 0 else 0)))
    budget = Budget(
        think=think,
        min_think=min(level.min_think, think),
        max_answer=max_answer,
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
        keep=settings.vote_keep,
        confidence=settings.vote_confidence,
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


class Turn:
    """One turn's event stream; ``partial()`` is the best result after Ctrl-C stopped it.

    Iterate it once. Close it (``answer`` and ``collect`` do) before the engine: a
    suspended strategy still holds a batch whose cleanup calls into the engine.
    """

    def __init__(self, run: Run, notices: list[str]) -> None:
        self.run = run
        self._events = self._stream(notices)

    def _stream(self, notices: list[str]) -> Iterator[Event]:
        for text in notices:
            yield Notice(text)
        yield from STRATEGIES[self.run.plan.selection](self.run)

    def __iter__(self) -> Iterator[Event]:
        return self._events

    def partial(self) -> Result:
        """What the turn produced so far, marked interrupted."""
        return partial(self.run)

    def close(self) -> None:
        self._events.close()


class Session:
    """A loaded model, ready to run turns over a conversation.

    Args:
        engine: the loaded model (the session closes it).
        settings: the merged settings.
        knobs: the flags beyond settings.
    """

    def __init__(self, engine: Engine, settings: Settings, knobs: Knobs) -> None:
        self.engine = engine
        self.settings = settings
        self.knobs = knobs
        self.fmt = model_format(engine.info, settings.reasoning_format)
        self._pending: list[str] = []
        if (note := template_note(engine.info)) is not None:
            self._pending.append(note)

    @classmethod
    def open(
        cls, settings: Settings, knobs: Knobs, opener: Opener, err: Console, *, n_seq_max: int, want_ctx: int = 8192
    ) -> Session:
        """Load the configured model with room for ``n_seq_max`` paths at once.

        Without ``--ctx``, the context is ``want_ctx`` where the model was trained for it.
        """
        engine = opener(settings, err, n_seq_max=n_seq_max, debug=knobs.debug, want_ctx=want_ctx)
        return cls(engine, settings, knobs)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def level(self) -> EffortPreset:
        """The current effort level with the knobs applied."""
        return preset_for(self.settings, self.knobs)

    def messages(self, question: str, *, system: str | None = None) -> list[dict]:
        """A one-question conversation: ``system`` (default: the configured one), then ``question``."""
        return one_question(question, self.settings.system if system is None else system)

    def prompt_tokens(self, messages: list[dict], level: EffortPreset) -> int:
        """Tokens of the text really decoded for ``messages`` at ``level`` (the prompted format adds some)."""
        prompt, _ = build_prompt(self.engine, self.fmt, messages, thinking=level.think_budget > 0,
                                 effort=level.name, budget=level.think_budget)
        return self.engine.count_tokens(prompt)

    def plan(self, messages: list[dict], level: EffortPreset | None = None, *, questions: int = 1) -> Plan:
        """Budgets for one turn over ``messages`` that fit the context; notices go with the turn.

        ``questions`` turns that will decode side by side each get a share of the context.
        """
        level = level or self.level()
        self.reserve(paths_at_once(level.selection, level.samples) * questions)
        tokens = self.prompt_tokens(messages, level)
        return make_plan(self.settings, self.knobs, level, self.engine, tokens, self._pending.append,
                         questions=questions)

    def reserve(self, n_seq: int) -> None:
        """Make room for ``n_seq`` paths at once, recreating the context only if it is too small."""
        have = getattr(self.engine, "n_seq_max", n_seq)
        if n_seq > have:
            self.engine.resize(n_seq)
            self._pending.append(f"the context was remade for {n_seq} paths at once; its cache starts empty")

    def turn(self, messages: list[dict], plan: Plan) -> Turn:
        """Start one turn: ``messages`` end with the user's question."""
        notices, self._pending = self._pending, []
        return Turn(Run(self.engine, messages, plan, self.fmt), notices)

    def close(self) -> None:
        self.engine.close()
