"""The shared turn layer behind the scripted engine: Session, Turn, answer and collect."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from thinkcli.config import Settings
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.events import Notice, Text
from thinkcli.render import answer, collect, make_renderer
from thinkcli import planner
from thinkcli.session import Knobs, Session, configured_levels, preset_for

THOUGHT = ["Let", " me", " add", "</think>", "The", " answer", " is", " 19.", EOG]
USER = [{"role": "user", "content": "What is 12+7?"}]


def session(scripts=(THOUGHT,), settings: Settings | None = None, knobs: Knobs | None = None, **kw) -> Session:
    return Session(FakeEngine(list(scripts), **kw), settings or Settings(seed=1), knobs or Knobs())


def plain():
    out, err = io.StringIO(), io.StringIO()
    renderer = make_renderer(mode="plain", thinking="hide", out=Console(file=out), err=Console(file=err))
    return renderer, out, err


def test_collect_returns_the_turns_result_without_drawing():
    s = session()
    result = collect(s.turn(USER, s.plan(USER)))
    assert result.answer == "The answer is 19." and not result.interrupted
    assert result.stats.prompt_tokens > 0 and result.stats.thinking_tokens == 4  # the close tag counts


def test_answer_draws_and_returns_the_result():
    s = session()
    renderer, out, _ = plain()
    result = answer(s.turn(USER, s.plan(USER)), renderer)
    assert out.getvalue() == "The answer is 19.\n"
    assert result.answer == "The answer is 19."


class StopAfter:
    """A renderer wrapper that presses Ctrl-C after ``n`` answer pieces."""

    def __init__(self, inner, n: int) -> None:
        self.inner, self.n = inner, n

    def answer(self, ev: Text) -> None:
        self.inner.answer(ev)
        self.n -= 1
        if self.n == 0:
            raise KeyboardInterrupt

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_ctrl_c_ends_only_the_turn_and_keeps_what_was_shown():
    s = session([THOUGHT, ["Hm", "</think>", "Second", " turn", EOG]])
    renderer, out, _ = plain()
    turn = s.turn(USER, s.plan(USER))
    result = answer(turn, StopAfter(renderer, 2))
    assert result.interrupted and result.answer == "The answer"
    assert out.getvalue().startswith("The answer")
    assert s.engine.batches[0].closed  # the turn released its batch
    again = collect(s.turn(USER, s.plan(USER)))  # the session goes on
    assert again.answer == "Second turn" and not again.interrupted


def test_collect_gives_the_partial_result_of_a_turn_on_ctrl_c():
    s = session()
    turn = s.turn(USER, s.plan(USER))

    class Interrupting:
        def __iter__(self):
            for ev in turn:
                if isinstance(ev, Text) and ev.kind == "answer":
                    raise KeyboardInterrupt
                yield ev

        partial = turn.partial
        close = turn.close

    result = collect(Interrupting())
    assert result.interrupted and result.reasoning.startswith("Let me add")


def test_a_bare_stream_lets_ctrl_c_through():
    def events():
        raise KeyboardInterrupt
        yield

    with pytest.raises(KeyboardInterrupt):
        collect(events())


def test_notices_come_first_in_the_next_turn_only():
    s = session(n_ctx=8192)
    assert s.engine.info.chat_template is None
    first = list(s.turn(USER, s.plan(USER)))
    assert isinstance(first[0], Notice) and "no chat template" in first[0].text
    second = list(s.turn(USER, s.plan(USER)))
    assert not any(isinstance(ev, Notice) for ev in second)


def test_the_context_is_sized_for_the_largest_level_and_grows_on_demand():
    settings = Settings(seed=1)
    assert planner.capacity(configured_levels(settings, Knobs())).seqs == 8  # max and auto run 8 paths
    assert planner.capacity(configured_levels(settings, Knobs(samples=12))).seqs == 12

    class Resizable(FakeEngine):
        def resize(self, n: int, *, n_ctx: int | None = None) -> None:
            self.resized = n
            self.n_seq_max = n

    engine = Resizable([THOUGHT])
    engine.n_seq_max = 8
    s = Session(engine, settings, Knobs(samples=16))
    events = list(s.turn(USER, s.plan(USER)))
    assert engine.resized == 16
    assert any(isinstance(ev, Notice) and "remade for 16 paths" in ev.text for ev in events)
    s.knobs = Knobs(samples=4)
    engine.resized = None
    s.plan(USER)
    assert engine.resized is None  # room enough: the context (and its cache) is kept


def test_effort_can_change_between_turns():
    s = session([THOUGHT] * 8)
    low = s.plan(USER)
    s.settings = s.settings.updated({"effort": "high"})
    high = s.plan(USER)
    assert (low.samples, low.selection) == (1, "single")
    assert (high.samples, high.selection) == (5, "vote")
    result = collect(s.turn(USER, high))
    assert len(result.samples) == 5


def test_preset_for_applies_the_knobs():
    level = preset_for(Settings(effort="low"), Knobs(samples=3, think_budget=100))
    assert (level.samples, level.selection, level.think_budget) == (3, "vote", 100)


def test_one_question_messages_carry_the_system_prompt():
    assert session().messages("q") == [{"role": "user", "content": "q"}]
    assert session(settings=Settings(system="Be brief.")).messages("q") == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "q"}]
