"""The running chat: its loaded session and its conversation, and one turn on them.

``Chat`` runs a turn per question (rendered by ``render.answer``, recorded in the run
log after each), drops the oldest exchanges once the conversation outgrows the
context, and switches models in place. The loop that reads questions is ``repl.py``;
what each slash command does is ``actions.py``.
"""

from __future__ import annotations

import random
from dataclasses import replace

from thinkcli import planner
from thinkcli.chat.sessions import Conversation, Exchange, SessionStore
from thinkcli.config import Settings
from thinkcli.env import Environment
from thinkcli.errors import ThinkError
from thinkcli.runlog.recorder import Recorder, plan_dict
from thinkcli.render import answer, make_renderer
from thinkcli.session import Knobs, Opener, Session, configured_levels, preset_for
from thinkcli.runlog.record import RunRecord, now
from thinkcli.tune.levels import ModelLevels


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
        messages, first = self._fit(question)
        plan = self.session.plan(messages)
        if seed is not None:
            plan = replace(plan, seed=seed)
        self._drop(first)  # the turn goes ahead: only now is the older history let go
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

    def _fit(self, question: str) -> tuple[list[dict], int]:
        """The turn's messages, and the first exchange they hold.

        The oldest exchanges go once the prompt passes half the context; nothing is
        dropped for good here, since a question that cannot be planned drops nothing.
        """
        level = self.session.level()
        limit = planner.positions(self.session.engine.info) // 2
        skip = self.first
        while True:
            messages = self.conv.messages(question, skip=skip, chat_template=self.session.engine.info.chat_template)
            if skip >= len(self.conv.exchanges) or self.session.prompt_tokens(messages, level) <= limit:
                break
            skip += 1
        return messages, skip

    def _drop(self, first: int) -> None:
        """Stop sending the exchanges before ``first`` from now on, and say so."""
        if first > self.first:
            self.say(f"the conversation outgrew the {planner.positions(self.session.engine.info)}-token context: "
                     f"the oldest {first - self.first} exchange(s) are no longer sent to the model", "yellow")
            self.first = first

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
