"""A loaded model and what one conversation needs to run turns on it.

``Session`` owns the engine, the settings, the detected reasoning format and the
engine's cache. It is where every command plans: ``open`` loads what the levels in
play need, ``plan`` sizes a turn's budgets (``thinkcli.planner``), ``turn`` runs it
as a ``Turn``. A turn never closes the engine or exits the process: its caller decides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Iterator

from rich.console import Console

from thinkcli import planner
from thinkcli.config import EffortPreset, Settings
from thinkcli.engine import Engine, ModelInfo
from thinkcli.errors import UsageError
from thinkcli.events import Event, Notice, Result
from thinkcli.reasoning import ReasoningFormat, detect_format
from thinkcli.scheduler import Program, Scheduler
from thinkcli.turn import Plan, Run, partial, paths_at_once, program
from thinkcli.turn.prompt import build_prompt

if TYPE_CHECKING:
    from thinkcli.tune.levels import ModelLevels

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
    return replace(level, think_budget=budget, min_think=min_think, samples=samples, selection=selection)


def configured_levels(settings: Settings, knobs: Knobs) -> list[EffortPreset]:
    """Every configured level with the knobs applied (what a chat may switch to)."""
    return [preset_for(settings.updated({"effort": name}), knobs) for name in settings.efforts]


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


class Turn:
    """One turn's event stream; ``partial()`` is the best result after Ctrl-C stopped it.

    Iterate it once, or hand ``program()`` to a scheduler that runs it beside others.
    Close it (``answer`` and ``collect`` do) before the engine: a suspended strategy
    still holds paths whose cleanup calls into the engine.
    """

    def __init__(self, run: Run, notices: list[str]) -> None:
        self.run = run
        self._notices = notices
        self._events: Iterator[Event] | None = None

    @property
    def notices(self) -> list[str]:
        """What the session has to say before this turn (the model's format, a cut budget)."""
        return list(self._notices)

    def program(self, *, notices: bool = True) -> Program:
        """The turn for a scheduler: its notices (unless the caller says them), then its strategy."""
        for text in self._notices if notices else ():
            yield Notice(text)
        yield from program(self.run)

    def __iter__(self) -> Iterator[Event]:
        if self._events is None:
            self._events = self.run.sched.solo(self.program())
        return self._events

    def partial(self) -> Result:
        """What the turn produced so far, marked interrupted."""
        return partial(self.run)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()


class Session:
    """A loaded model, ready to run turns over a conversation.

    Args:
        engine: the loaded model (the session closes it).
        settings: the merged settings.
        knobs: the flags beyond settings.
    """

    def __init__(self, engine: Engine, settings: Settings, knobs: Knobs, *,
                 model_levels: ModelLevels | None = None) -> None:
        self.engine = engine
        self.knobs = knobs
        self._pending: list[str] = []
        self._said: set[str] = set()  # notices already given this session
        if model_levels is not None:
            settings = model_levels.after_load(settings, engine.info)
            self._pending += model_levels.profiles.warnings
            if knobs.debug and (level := settings.efforts.get(settings.effort)) is not None:
                self._pending.append(f"effort levels: {level.origin}")
        self.settings = settings
        self.fmt = model_format(engine.info, settings.reasoning_format)
        if (note := template_note(engine.info)) is not None:
            self._pending.append(note)
        planner.note_context(settings.ctx, engine.info, self._note)

    @classmethod
    def open(
        cls, settings: Settings, knobs: Knobs, opener: Opener, err: Console, *,
        levels: list[EffortPreset], questions: int = 1, seqs: int = 1, model_levels: ModelLevels | None = None,
    ) -> Session:
        """Load the configured model with what ``questions`` at once of any of ``levels`` need
        (and at least ``seqs`` sequences): every path's full budget, where the model allows.

        With ``model_levels``, the session's levels are the loaded model's (its profile, or
        the built-in table for its kind; ``ModelLevels.before_load`` gives the same levels
        before loading wherever the model file is already here, so ``levels`` fit them).
        """
        need = planner.capacity(levels, questions=questions, seqs=max(seqs, knobs.samples or 1))
        engine = opener(settings, err, n_seq_max=need.seqs, debug=knobs.debug, want_ctx=need.ctx)
        try:
            return cls(engine, settings, knobs, model_levels=model_levels)
        except BaseException:
            engine.close()
            raise

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

    def format_of(self, name: str | None) -> ReasoningFormat:
        """The reasoning format a level names (None: the session's own)."""
        return self.fmt if name is None else model_format(self.engine.info, name)

    def prompt_tokens(self, messages: list[dict], level: EffortPreset) -> int:
        """Tokens of the text really decoded for ``messages`` at ``level`` (the prompted format adds some)."""
        prompt, _ = build_prompt(self.engine, self.format_of(level.reasoning_format), messages,
                                 thinking=level.think_budget > 0, effort=level.name, budget=level.think_budget)
        return self.engine.count_tokens(prompt)

    def plan(self, messages: list[dict], level: EffortPreset | None = None, *, questions: int = 1) -> Plan:
        """Budgets for one turn over ``messages`` that fit; notices go with the turn.

        ``questions`` turns that will decode side by side each get a share of the cells.
        """
        level = level or self.level()
        self.reserve(paths_at_once(level.selection, level.samples) * questions)
        return planner.make_plan(
            self.settings, level, self.engine.info, prompt_tokens=self.prompt_tokens(messages, level),
            wrap_up=self.engine.count_tokens(self.settings.wrap_up) + 8,
            temperature_given=self.knobs.temperature_given, notice=self._note, questions=questions,
        )

    def questions_at_once(self, level: EffortPreset, asked: int | None = None) -> int:
        """How many questions of ``level`` a batch decodes together (``asked``: ``--parallel``)."""
        return planner.questions_at_once(level, self.engine.info, self.engine.n_seq_max, asked, self.settings.parallel)

    def fit(self, level: EffortPreset) -> None:
        """Make the engine big enough for ``level`` at full budget (a chat switching level):
        the context is remade only where it is too small and the model is local."""
        need = planner.capacity([level])
        info = self.engine.info
        more_cells = info.shared_context and self.settings.ctx is None and need.ctx > info.n_ctx
        if more_cells or need.seqs > self.engine.n_seq_max:
            self.engine.resize(max(need.seqs, self.engine.n_seq_max), n_ctx=need.ctx if more_cells else None)
            self._pending.append(f"the context was remade for -e {level.name} ({self.engine.info.n_ctx} tokens, "
                                 f"{self.engine.n_seq_max} paths); its cache starts empty")

    def _note(self, what: str, text: str) -> None:
        """A notice for the next turn: each ``what`` once per session."""
        if what not in self._said:
            self._said.add(what)
            self._pending.append(text)

    def reserve(self, n_seq: int) -> None:
        """Make room for ``n_seq`` paths at once, recreating the context only if it is too small."""
        if n_seq > self.engine.n_seq_max:
            self.engine.resize(n_seq)
            self._pending.append(f"the context was remade for {n_seq} paths at once; its cache starts empty")

    def turn(self, messages: list[dict], plan: Plan, *, scheduler: Scheduler | None = None) -> Turn:
        """Start one turn: ``messages`` end with the user's question.

        ``scheduler``: the one that will run it beside other turns (``batch``); by default
        the turn has one of its own, which keeps its cache for the next turn.
        """
        notices, self._pending = self._pending, []
        return Turn(Run(self.engine, messages, plan, self.format_of(plan.format), scheduler=scheduler), notices)

    def scheduler(self) -> Scheduler:
        """One batch for many turns at once; each finished turn's paths make room for the next."""
        return Scheduler(self.engine, seqs=self.engine.n_seq_max, keep_cache=False)

    def close(self) -> None:
        self.engine.close()
