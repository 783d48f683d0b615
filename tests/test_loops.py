"""Loop detection: the detector's rule, what a path that loops does, and text that only looks like a loop.

``tests/data/repetition/legit`` holds text that repeats itself on purpose (tables, a
numbered list, code, a refrain, a times table, a countdown song, counting, a log, long
numbers): it must never be stopped.
``tests/data/repetition/loops`` holds text real small models wrote while stuck: it must be.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from thinkcli.engine.fake import EOG
from thinkcli.events import Explored, SampleResult, ThinkingDone
from thinkcli.render.summary import cut_note, thought_line, tally
from thinkcli.strategies.loops import (
    ANSWER_WINDOW, COUNTING_WINDOW, MAX_PERIOD, NUMBER_SHARE, PARTIAL, WINDOW, LoopDetector,
)
from thinkcli.vote import why_not

from test_ask_real import ask_json
from test_strategies import drive, texts

DATA = Path(__file__).parent / "data" / "repetition"
LEGIT = sorted((DATA / "legit").iterdir())
LOOPS = sorted((DATA / "loops").iterdir())
CHARS_PER_TOKEN = 4  # to read the rule in characters: a token is about four, a digit one


def letters(i: int) -> str:
    """``i`` written in letters (a, b, ..., z, ba, bb, ...): words apart by more than a number."""
    out = ""
    while True:
        i, rest = divmod(i, 26)
        out = chr(ord("a") + rest) + out
        if not i:
            return out


def words(n: int, stem: str = "w") -> list[str]:
    """``n`` distinct word pieces: text that never repeats."""
    return [f" {stem}{letters(i)}" for i in range(n)]


def first_loop(detector: LoopDetector, pieces) -> int | None:
    """How many pieces it took until the detector saw a loop, or None."""
    return next((i for i, piece in enumerate(pieces, 1) if detector.add(piece)), None)


# -- 1. the rule ------------------------------------------------------------------


@pytest.mark.parametrize("period", [1, 2, 7, MAX_PERIOD])
def test_a_cycle_is_found_when_its_repetition_covers_the_window(period):
    detector = LoopDetector()
    assert first_loop(detector, words(300, "p")) is None
    cycle = words(period, "c")
    assert first_loop(detector, cycle * (2 * WINDOW)) == WINDOW
    assert (detector.period, detector.repeats) == (period, WINDOW - period)


def test_the_shortest_period_is_reported():
    detector = LoopDetector()
    assert first_loop(detector, [" a", " b"] * WINDOW) == WINDOW and detector.period == 2


def test_a_cycle_longer_than_the_longest_period_is_not_a_loop():
    assert first_loop(LoopDetector(), words(MAX_PERIOD + 1) * 40) is None


def test_a_cycle_that_changes_one_token_starts_counting_again():
    cycle = words(5)
    stream = cycle * 200
    stream[150] = " changed"
    # the tokens up to the change and one period after it no longer repeat exactly
    assert first_loop(LoopDetector(), stream) == 150 + 1 + WINDOW


def test_empty_pieces_of_an_unfinished_character_are_skipped():
    cycle = [" a", "", "", "€", " b"]  # the euro sign arrives in three pieces
    stream = cycle * WINDOW
    whole = [i for i, piece in enumerate(stream, 1) if piece]
    assert first_loop(LoopDetector(), stream) == whole[WINDOW - 1]


def test_reset_forgets_the_repetition_so_far():
    detector = LoopDetector()
    assert first_loop(detector, [" a"] * (WINDOW - 1)) is None
    detector.reset()
    assert first_loop(detector, [" a"] * WINDOW) == WINDOW  # counted from the reset, not before it


def test_a_loop_may_count_its_items():
    # "70. If you have 18 marbles ...\n71. If you have 18 marbles ...": only the number changes
    item = [".", " If", " you", " have", " ", "1", "8", " marbles", " in", " a", " bag", ",", " what", " is", " the",
            " ratio", " of", " the", " number", " of", " marbles", " in", " the", " first", " bag", "?", "\n"]
    stream = [piece for n in range(10, 99) for piece in [*str(n), *item]]
    assert first_loop(LoopDetector(), stream) is not None


def test_a_short_counted_item_is_a_loop_too():
    item = [".", "  I", " want", " to", " see", " the", " total", " number", " of", " pencils", ".", "\n"]
    stream = [piece for n in range(7, 99) for piece in [*str(n), *item]]
    assert first_loop(LoopDetector(), stream) is not None


def test_a_counter_on_two_lines_that_take_turns_is_a_loop():
    turns = [piece for n in range(1, 200, 2) for piece in
             ["<|", "im", "_", "start", "|>", "step", *str(n), "\n", "<|", "im", "_", "end", "|>", "step", *str(n + 1), "\n"]]
    assert first_loop(LoopDetector(), turns) is not None


def test_counting_on_in_thinking_is_a_loop_after_the_counting_window():
    counting = [piece for n in range(100, 999) for piece in [*str(n), ".", "  \n"]]  # "100.  ", "101.  ", ...
    detector = LoopDetector()
    assert first_loop(detector, counting) is None
    detector = LoopDetector()
    detector.counting_window = COUNTING_WINDOW
    assert first_loop(detector, counting) == COUNTING_WINDOW


def test_numbers_that_change_often_are_no_loop():
    times = [piece for n in range(1, 500) for piece in ["7", " x", " ", *str(n), " =", " ", *str(7 * n), "\n"]]
    assert first_loop(LoopDetector(), times) is None  # two numbers a line
    counting = [piece for n in range(100, 999) for piece in [*str(n), ",", " "]]
    assert first_loop(LoopDetector(), counting) is None  # one number a cycle, but most of its tokens
    digits = [str(d) for d in range(10)] * 100  # 0123456789 over and over is still a loop
    assert first_loop(LoopDetector(), digits) == WINDOW


def line(n: int, stem: str) -> list[str]:
    return [*words(n - 1, stem), "\n"]


def test_lines_written_before_in_any_order_are_a_loop():
    two, one = line(30, "a"), line(30, "b")  # "2 more pencils" or "1 more pencil": no fixed period
    order = [two, two, one, two, one, one, two, one, one, one, two, two, two, one]
    stream = [*words(10), *(piece for chosen in order for piece in chosen)]
    detector = LoopDetector()
    at = first_loop(detector, stream)
    assert at == 10 + 3 * 30 + 9 * 30 and detector.repeats == 9 * 30 and detector.period == 0  # after "one" was new


def pencils(n: int) -> list[str]:
    return ["You", " have", " ", str(n), " more", " pencils", " than", " Ken", " has", ".", " How", " many", " pencils",
            " does", " Ken", " have", " now", "?", "\n", "<think>", "\n"]


def test_old_lines_may_include_a_few_that_differ_only_in_their_numbers():
    counts = [2, 2, 1, 2, 1, 3, 2, 1, 2, 2, 1, 4, 2, 1, 1, 2, 3, 1, 2, 2, 1, 1, 2, 3, 1, 2, 2, 1, 1, 2]
    stream = [piece for n in counts for piece in pencils(n)]
    assert first_loop(LoopDetector(), stream) is not None


def test_numbered_items_that_say_the_same_are_old_lines():
    # "33. If you have 18 marbles ... number in the second bag?", then "... number of marbles in ...", in turn
    short = [" If", " you", " have", " ", "1", "8", " marbles", ",", " what", " is", " the", " number", " in", " it", "?"]
    long = [*short[:-2], " of", " marbles", " in", " it", "?"]
    items = [short if n % 3 else long for n in range(10, 99)]
    stream = [piece for n, item in zip(range(10, 99), items) for piece in [*str(n), ".", *item, "\n", "<end>", "\n"]]
    detector = LoopDetector()
    assert first_loop(detector, stream) is not None and detector.period == 0  # no single cycle: old lines


def test_lettered_items_that_say_the_same_are_old_lines():
    item = [" Use", " a", " strategy", " to", " find", " the", " number", " of", " marbles", ".", "\n"]
    stream = [piece for letter in "abcdefghijklmnopqrstuvwxyz" for piece in [letter, ")", *item]]
    assert first_loop(LoopDetector(), stream) is not None


def test_counting_one_number_a_line_is_no_loop():
    assert first_loop(LoopDetector(), [piece for n in range(300, 0, -1) for piece in [*str(n), "\n"]]) is None
    assert first_loop(LoopDetector(), [piece for n in range(1, 300) for piece in [*str(n), ".", "\n"]]) is None


def test_a_paragraph_longer_than_the_longest_period_repeated_is_a_loop():
    paragraph = line(MAX_PERIOD * 2, "p")
    detector = LoopDetector()
    assert first_loop(detector, paragraph * 4) == 3 * len(paragraph) and detector.repeats == 2 * len(paragraph)


def test_old_lines_between_new_ones_are_no_loop():
    refrain = line(12, "r")
    stream = [piece for verse in range(40) for piece in [*line(20, f"v{letters(verse)}_"), *refrain, *refrain]]
    assert first_loop(LoopDetector(), stream) is None


def test_a_loop_in_progress_is_three_cycles_over_the_least_tokens():
    detector = LoopDetector()
    assert first_loop(detector, words(10) + words(30, "c") * 2) is None
    assert detector.looping_now(least=1) == 0  # two cycles of 30
    for piece in words(29, "c"):
        detector.add(piece)
    assert detector.looping_now(least=1) == 0  # not yet three
    detector.add(words(30, "c")[29])
    assert detector.looping_now() == 60  # three cycles, 90 tokens
    assert detector.looping_now(least=91) == 0
    detector.add(" other")
    assert detector.looping_now() == 0  # it has to reach the latest token


def test_a_loop_in_progress_may_be_old_lines():
    detector = LoopDetector()
    first_loop(detector, [*line(20, "a"), *line(20, "b"), *line(20, "a"), *line(20, "b")])
    assert detector.looping_now() == 0 and detector.looping_now(least=40) == 40
    first_loop(detector, [*line(20, "a"), " half", " a", " line"])
    assert detector.looping_now(least=63) == 63  # the unfinished line goes with them


def test_the_window_must_be_longer_than_the_period():
    with pytest.raises(ValueError):
        LoopDetector(max_period=64, window=64)
    with pytest.raises(ValueError):
        LoopDetector(max_period=0)


# -- 2. real text, one character a token ---------------------------------------------


@pytest.mark.parametrize("path", LEGIT, ids=lambda p: p.name)
def test_text_that_repeats_on_purpose_is_not_a_loop_character_by_character(path):
    detector = LoopDetector(MAX_PERIOD * CHARS_PER_TOKEN, WINDOW * CHARS_PER_TOKEN, NUMBER_SHARE / CHARS_PER_TOKEN)
    text = path.read_text()
    at = first_loop(detector, text)
    assert at is None, f"stopped at {text[max(0, at - 120):at]!r}"


@pytest.mark.parametrize("path", LOOPS, ids=lambda p: p.name)
def test_text_written_in_a_loop_is_a_loop_character_by_character(path):
    detector = LoopDetector(MAX_PERIOD * CHARS_PER_TOKEN, WINDOW * CHARS_PER_TOKEN, NUMBER_SHARE / CHARS_PER_TOKEN)
    assert first_loop(detector, path.read_text()) is not None


# -- 3. real text, tokenized as the real small model does ----------------------------


@pytest.fixture(scope="module")
def tokenize(model_path):
    from thinkcli.engine.llama import LlamaEngine

    engine = LlamaEngine(model_path, name="smollm2-135m", ctx=512, threads=1, n_seq_max=1)

    def pieces(text: str) -> list[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return [decoder.decode(engine.piece(token)) for token in engine.tokenize(text)]

    yield pieces
    engine.close()


@pytest.mark.model
@pytest.mark.parametrize("path", LEGIT, ids=lambda p: p.name)
def test_text_that_repeats_on_purpose_is_not_a_loop_in_real_tokens(tokenize, path):
    pieces = tokenize(path.read_text())
    at = first_loop(LoopDetector(), pieces)
    assert at is None, f"stopped at {''.join(pieces[max(0, at - 40):at])!r}"


@pytest.mark.model
@pytest.mark.parametrize("path", LOOPS, ids=lambda p: p.name)
def test_text_written_in_a_loop_is_a_loop_in_real_tokens(tokenize, path):
    pieces = tokenize(path.read_text())
    at = first_loop(LoopDetector(), pieces)
    assert at is not None and at <= 2 * WINDOW


# -- 4. a path that loops ------------------------------------------------------------

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


# -- 5. the real program on the real small model ------------------------------------


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
