"""Loop detection: the detector's rule, text that only looks like a loop, and text that is one.

``tests/data/repetition/legit`` holds text that repeats itself on purpose (tables, a
numbered list, code, a refrain, a times table, a countdown song, counting, a log, long
numbers): it must never be stopped.
``tests/data/repetition/loops`` holds text real small models wrote while stuck: it must be.
"""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from thinkcli.turn.loops import COUNTING_WINDOW, MAX_PERIOD, NUMBER_SHARE, WINDOW, LoopDetector

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


def test_counting_past_a_longer_number_is_still_counting():
    counting = [piece for n in range(1, 999) for piece in [*str(n), ".", "  \n"]]  # "9." to "10." breaks a cycle
    detector = LoopDetector()
    detector.counting_window = COUNTING_WINDOW
    at = first_loop(detector, counting)
    # "1." to "9." are too short to start old lines; from "11." they go on past "100."
    assert at is not None and at <= 9 * 3 + 2 * 4 + COUNTING_WINDOW and detector.period == 0


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


def test_short_lines_alone_are_no_loop():
    dice = random.Random(1)
    rolls = [piece for _ in range(400) for piece in [str(dice.randint(1, 6)), "\n"]]  # every line is an old one
    assert first_loop(LoopDetector(), [*words(5), "\n", *rolls]) is None


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
