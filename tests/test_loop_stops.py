"""What a path that goes round in a loop does: behind the scripted engine, then on the real small model.

A loop in the thinking is rewound to its first time through and answered as at a budget
end; a loop in the answer ends it with a note; a path that looped does not vote.
"""

from __future__ import annotations

import pytest

from thinkcli.engine.fake import EOG
from thinkcli.events import Explored, SampleResult, ThinkingDone
from thinkcli.render.summary import cut_note, thought_line, tally
from thinkcli.turn.loops import ANSWER_WINDOW, COUNTING_WINDOW, PARTIAL, WINDOW
from thinkcli.vote import why_not

from test_ask_real import ask_json
from test_loops import letters, line, words
from test_strategies import drive, texts

# -- 1. a path that loops ------------------------------------------------------------

CYCLE = [" I", " add", " the", " numbers", "."]
LOOP_TOKENS = WINDOW  # a cycle after distinct words is found in thinking after exactly this many tokens


def looping(tokens: int = LOOP_TOKENS) -> list[str]:
    return (CYCLE * tokens)[:tokens]


def test_a_loop_in_the_thinking_is_rewound_to_one_cycle_and_answered_like_a_budget_end():
    wrap = "\nTime to answer.\n"
    before = words(20)
    script = [*before, *looping(), "The", " answer", " is", " 7", EOG]
    engine, _, events, result = drive([script], think=2000, wrap_up=wrap)
    batch = engine.batches[0]
    assert batch.rewound == [(0, LOOP_TOKENS - len(CYCLE))]
    assert batch.injected == [(0, wrap + "</think>")]
    one_cycle = "".join(CYCLE)
    assert batch.seen() == "".join(before) + one_cycle + wrap + "</think>" + "The answer is 7"
    sample = result.samples[0]
    assert (sample.think_end, sample.answer_end, sample.answer) == ("loop", "stop", "The answer is 7")
    assert sample.thinking_tokens == len(before) + LOOP_TOKENS  # spent, though rewound
    assert result.reasoning == ("".join(before) + one_cycle + wrap).strip()
    assert [e.reason for e in events if isinstance(e, ThinkingDone)] == ["loop"]
    assert texts(events, "reasoning").startswith(("".join(before) + one_cycle * 3).lstrip())  # shown, it stays


def test_a_budget_that_runs_out_inside_a_loop_rewinds_it_too():
    wrap = "\nTime to answer.\n"
    before = words(20)
    script = [*before, *looping(PARTIAL + 36), "It", " is", " 7", EOG]
    engine, _, _, result = drive([script], think=20 + PARTIAL + 36, wrap_up=wrap)
    assert engine.batches[0].rewound == [(0, PARTIAL + 36 - len(CYCLE))]
    assert engine.batches[0].seen() == "".join(before) + "".join(CYCLE) + wrap + "</think>" + "It is 7"
    assert result.samples[0].think_end == "loop"


def test_a_budget_that_runs_out_after_a_little_repetition_is_a_budget_end():
    script = [*words(20), *looping(PARTIAL - 1), "It", " is", " 7", EOG]
    engine, _, _, result = drive([script], think=20 + PARTIAL - 1)
    assert engine.batches[0].rewound == [] and result.samples[0].think_end == "budget"


def test_after_thinking_that_looped_the_answer_is_held_to_the_thinking_window():
    script = [*looping(), *words(3), *looping(WINDOW), " never", EOG]
    _, _, _, result = drive([script], think=2000)
    sample = result.samples[0]
    assert (sample.think_end, sample.answer_end, sample.answer_tokens) == ("loop", "loop", 3 + WINDOW)


def test_a_loop_in_the_answer_ends_the_path_with_a_note():
    script = ["Let", " me", " think", "</think>", "The", " answer", " is", ":", *looping(ANSWER_WINDOW), " never", EOG]
    engine, _, events, result = drive([script], think=100)
    sample = result.samples[0]
    assert (sample.think_end, sample.answer_end) == ("stop", "loop")
    assert sample.answer_tokens == 4 + ANSWER_WINDOW and "never" not in result.answer
    assert engine.batches[0].stopped == [0]
    assert cut_note(result) == "(the answer was stopped: it kept repeating itself)"


def test_a_loop_without_thinking_ends_the_answer():
    _, _, _, result = drive([[*words(3), *looping(ANSWER_WINDOW), " never", EOG]], thinking=False)
    assert (result.samples[0].think_end, result.samples[0].answer_end) == ("none", "loop")


def test_an_answer_may_repeat_for_longer_than_thinking_may():
    # a grid of zeros written out is a thing a user asks for
    script = ["Let", " me", " think", "</think>", *looping(ANSWER_WINDOW - 1), " done", EOG]
    _, _, _, result = drive([script], think=100)
    assert result.samples[0].answer_end == "stop" and result.answer.endswith("done")


def test_repetition_across_thinkcli_own_text_is_not_the_models_loop():
    # a close before min_think is rewound and "Wait," injected: what came before is forgotten
    stream = looping(3 * LOOP_TOKENS)
    half, rest = stream[: LOOP_TOKENS - 10], stream[LOOP_TOKENS - 10 : 2 * LOOP_TOKENS - 20]
    script = [*half, "</think>", *rest, "</think>", "It", " is", " 4", EOG]
    engine, _, _, result = drive([script], think=2000, min_think=len(half) + 2, continuations=("Wait,",))
    assert result.samples[0].think_end == "stop" and engine.batches[0].injected == [(0, "\nWait,")]


def test_an_answer_that_copies_out_what_the_thinking_drafted_is_no_loop():
    draft = [piece for n in range(30) for piece in line(20, f"l{letters(n)}_")]  # 600 tokens of lines
    script = [*draft, "</think>", *draft, EOG]
    _, _, _, result = drive([script], think=2000)
    assert (result.samples[0].think_end, result.samples[0].answer_end) == ("stop", "stop")


def test_thinking_may_not_count_on_and_on_but_an_answer_may():
    def counting(start: int, stop: int) -> list[str]:
        return [piece for n in range(start, stop) for piece in [*str(n), ".", "  \n"]]  # "100.  ", "101.  ", ...

    thinking, answer = counting(100, 999)[:COUNTING_WINDOW], counting(1000, 1300)  # 1,800 tokens
    _, _, _, result = drive([[*thinking, *answer, EOG]], think=4000)
    sample = result.samples[0]
    assert (sample.think_end, sample.thinking_tokens) == ("loop", COUNTING_WINDOW)
    assert (sample.answer_end, sample.answer_tokens) == ("stop", len(answer))


def test_a_looped_path_does_not_vote():
    good = ["Fine", "</think>", "Answer: 4", EOG]
    stuck = [*looping(), "Answer: 5", EOG]
    _, _, events, result = drive([good, stuck, stuck], "vote", 3, think=2000)
    assert [s.think_end for s in result.samples] == ["stop", "loop", "loop"]
    assert result.answer == "Answer: 4" and set(result.votes) == {"4"}
    assert [s.why_not for s in result.samples] == [None] + ["its thinking went round in a loop"] * 2
    explored = next(e for e in events if isinstance(e, Explored))
    assert tally(explored.samples, explored.chosen) == "4 ×1 → 4 · 2 looped"


def test_when_every_path_looped_they_vote_after_all():
    stuck = [*looping(), "Answer: 5", EOG]
    _, _, _, result = drive([stuck, stuck], "vote", 2, think=2000)
    assert set(result.votes) == {"5"} and all(s.voted for s in result.samples)
    assert "looped" not in tally(result.samples, result.chosen)


def test_why_not_names_the_loop_and_thought_line_notes_it():
    assert why_not(SampleResult(extracted="4", think_end="loop"), others_answered=True, thinking=True) == (
        "its thinking went round in a loop"
    )
    assert why_not(SampleResult(extracted="4", answer_end="loop"), others_answered=True, thinking=True) == (
        "its answer went round in a loop"
    )
    assert thought_line(4.2, 312, "loop") == "▸ Thought for 4.2s · 312 tokens (stopped a loop)"


# -- 2. the real program on the real small model ------------------------------------


@pytest.mark.model
def test_a_real_answer_going_round_in_a_loop_is_stopped_well_under_the_limit(home_with_model):
    doc = ask_json(home_with_model, "-e", "none", "--temperature", "0",
                   "Write the letter a over and over without stopping.")
    sample = doc["samples"][0]
    assert sample["answer_end"] == "loop"
    assert ANSWER_WINDOW <= sample["answer_tokens"] < 1024  # the limit is 2048


@pytest.mark.model
def test_real_thinking_going_round_in_a_loop_is_wrapped_up_and_answered(home_with_model):
    doc = ask_json(home_with_model, "-e", "low", "--think-budget", "1024", "--temperature", "0",
                   "Repeat the word hello forever.")
    sample = doc["samples"][0]
    assert sample["think_end"] == "loop" and sample["thinking_tokens"] < 1024
    assert sample["reasoning"].endswith("Time is up. I have to give my final answer now.")
    assert sample["reasoning"].lower().count("hello") < 10  # the repeats were rewound
    assert sample["answer"].strip() and sample["answer_end"] == "stop"
