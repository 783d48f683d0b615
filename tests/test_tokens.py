"""Per-token confidences: how a path keeps them, how the run log packs them, and that they add up."""

from __future__ import annotations

import math
import sqlite3

import pytest

from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.events import Result, SampleResult
from thinkcli.reasoning import FORMATS
from thinkcli.runlog.record import RunRecord, now
from thinkcli.runlog.store import RunStore
from thinkcli.turn import Plan, Run
from thinkcli.turn import events as run_events
from thinkcli.turn.sample import Budget
from thinkcli.engine import Sampling
from thinkcli.runlog.tokens import INSERTED, PathTokens, TokenTrace, pack, unpack
from thinkcli.vote import trace_confidence

FMT = FORMATS["prompted"]


def solve(scripts, *, samples=1, budget=Budget(think=1024), selection=None) -> Result:
    engine = FakeEngine(scripts)
    plan = Plan(effort="test", selection=selection or ("vote" if samples > 1 else "single"), samples=samples,
                budget=budget, thinking=True, sampling=Sampling(temperature=0.7), seed=1)
    run = Run(engine, [{"role": "user", "content": "q"}], plan, FMT)
    events = list(run_events(run))
    return events[-1].result


def recorded(result: Result, index: int = 0) -> PathTokens:
    return unpack(pack(result.tokens))[index]


def pieces(sample: SampleResult, path: PathTokens) -> list[tuple[str, float | None]]:
    text, start, out = sample.reasoning + sample.answer, 0, []
    for end, confidence in zip(path.ends, path.confidences):
        out.append((text[start:end], confidence))
        start = end
    return out


def test_each_token_keeps_its_text_and_confidence():
    script = [("Let", -0.1, 3.0), (" me", -0.1, 1.0), (" add.", -0.1, 5.0), ("</think>", -0.1, 4.0),
              ("It is", -0.1, 2.5), (" 19.", -0.1, 6.0), EOG]
    result = solve([script])
    path, sample = recorded(result), result.samples[0]
    assert pieces(sample, path) == [("Let", 3.0), (" me", 1.0), (" add.", 5.0), ("", 4.0), ("It is", 2.5), (" 19.", 6.0)]
    assert path.split == len(sample.reasoning) and path.ends[-1] == len(sample.reasoning + sample.answer)
    assert round(trace_confidence(path.scored()), 4) == sample.confidence


def test_text_thinkcli_wrote_is_marked_and_rewound_tokens_are_gone():
    # The model closes early twice; thinkcli takes the close back, writes "Wait," and thinks on.
    script = ["One", ".", ("</think>", -0.1, 9.0), "Two", ".", ("</think>", -0.1, 9.0), "Three", ".", "</think>", "Done.", EOG]
    result = solve([script], budget=Budget(think=1024, min_think=6))
    sample, path = result.samples[0], recorded(result)
    got = pieces(sample, path)
    inserted = [text for text, c in got if c is None]
    assert inserted and all("Wait," in text for text in inserted)
    assert 9.0 not in [c for _, c in got]  # the rejected closes' tokens are forgotten
    assert "".join(text for text, _ in got) == sample.reasoning + sample.answer
    assert round(trace_confidence(path.scored()), 4) == sample.confidence


def test_a_forced_close_is_thinkclis_text_and_the_answer_after_it_the_models():
    script = [("A", -0.1, 1.0), ("B", -0.1, 2.0), ("C", -0.1, 3.0), ("D", -0.1, 4.0), "</think>", "E", EOG]
    result = solve([script], budget=Budget(think=2, wrap_up="\nTime is up.\n"))
    sample, path = result.samples[0], recorded(result)
    got = pieces(sample, path)
    assert got[:3] == [("A", 1.0), ("B", 2.0), ("\nTime is up.", None)]
    assert [c for _, c in got[3:]] == [3.0, 4.0, 2.0, 2.0][: len(got) - 3]
    assert round(trace_confidence(path.scored()), 4) == sample.confidence


@pytest.mark.parametrize("cut", range(1, 40))
def test_the_spans_cover_the_recorded_texts_however_the_tokens_fall(cut):
    raw = "Let me think about it.</think>The answer is 19."
    script = [raw[i:i + cut] for i in range(0, len(raw), cut)] + [EOG]
    result = solve([script])
    sample, path = result.samples[0], recorded(result)
    assert "".join(text for text, _ in pieces(sample, path)) == sample.reasoning + sample.answer
    assert path.split == len(sample.reasoning) == len("Let me think about it.")
    assert len(path.scored()) == sample.thinking_tokens + sample.answer_tokens


def test_every_path_of_a_vote_is_kept():
    scripts = [["Add.", "</think>", "19", EOG], ["Count.", "</think>", "19", EOG], ["Guess.", "</think>", "18", EOG]]
    result = solve(scripts, samples=3)
    paths = unpack(pack(result.tokens))
    assert len(paths) == 3
    for sample, path in zip(result.samples, paths):
        assert "".join(t for t, _ in pieces(sample, path)) == sample.reasoning + sample.answer


def test_pack_and_unpack_round_trip_with_float16_precision():
    trace = TokenTrace()
    trace.add(12.3456, 3, 0)
    trace.insert(10, 0)
    trace.add(0.5, 12, 0)
    trace.add(7.25, 12, 4)
    trace.keep("  abcdefghij  ", "abcd")  # two blanks stripped from the reasoning's start
    [path] = unpack(pack([trace]))
    assert path.ends == (1, 8, 10, 14) and path.split == len("abcdefghij")
    assert path.confidences[1] is None and math.isclose(path.confidences[0], 12.3456, rel_tol=1e-3)
    assert path.confidences[2:] == (0.5, 7.25)


def test_a_token_longer_than_two_bytes_can_count_is_kept_whole():
    trace = TokenTrace()
    trace.add(1.0, 70_000, 0)
    trace.keep("x" * 70_000, "")
    assert unpack(pack([trace]))[0].ends == (70_000,)


def test_nothing_to_pack_and_damaged_blobs():
    assert pack([]) is None and pack([None, TokenTrace()]) is None
    with pytest.raises(ValueError):
        unpack(b"not zlib")
    with pytest.raises(ValueError):
        unpack(__import__("zlib").compress(b"\x09"))
    blob = pack([_trace(5)])
    with pytest.raises(ValueError):
        unpack(__import__("zlib").compress(__import__("zlib").decompress(blob)[:-3]))


def _trace(n: int) -> TokenTrace:
    trace = TokenTrace()
    for i in range(n):
        trace.add(float(i), i + 1, 0)
    trace.keep("x" * n, "")
    return trace


def test_drop_forgets_model_tokens_and_the_text_thinkcli_wrote_between_them():
    trace = _trace(3)
    trace.insert(5, 0)
    trace.drop(2)
    assert trace.confidences == [0.0] and trace.end() == (1, 0)
    trace.extend(2, 0)
    assert trace.end() == (2, 0) and len(trace) == 1


def test_lowest_window_marks_the_stretch_that_set_the_confidence():
    values = [5.0] * 40 + [1.0] * 25 + [5.0] * 35  # 100 tokens: groups of 25
    path = PathTokens(tuple(range(1, 101)), tuple(values), 100)
    start, end, mean = path.lowest_window()
    assert (start, end) == (40, 65) and math.isclose(mean, trace_confidence(values))
    tail = path.lowest_window("tail")
    assert tail[1] == 100 and math.isclose(tail[2], trace_confidence(values, "tail"))
    with_gap = PathTokens((1, 2, 3), (2.0, None, 1.0), 3)
    assert with_gap.lowest_window() == (0, 3, 1.5)
    assert PathTokens((), (), 0).lowest_window() is None


def test_the_run_log_keeps_token_data_apart_and_older_logs_stay_readable(tmp_path):
    path = tmp_path / "thinkcli.db"
    old = sqlite3.connect(path)  # a log as thinkcli wrote it before token data
    with RunStore(path) as store:
        store.record(RunRecord("ask", "q", Result(answer="a"), now()))
    old.execute("DROP TABLE tokens")
    old.commit()
    old.close()
    with RunStore(path, create=False) as store:
        assert store.tokens(1) is None
        result = solve([["Add.", "</think>", "19", EOG]])
        run_id = store.record(RunRecord("ask", "q", result, now()))
        [kept] = store.tokens(run_id)
        assert kept.scored() == recorded(result).scored()
        assert "tokens" not in store.get(run_id) and "tokens" not in result.to_dict()
        store.clear()
        assert store.tokens(run_id) is None


def test_damaged_token_data_is_one_line_naming_the_log(tmp_path):
    path = tmp_path / "thinkcli.db"
    with RunStore(path) as store:
        run_id = store.record(RunRecord("ask", "q", solve([["A", "</think>", "B", EOG]]), now()))
    db = sqlite3.connect(path)
    db.execute("UPDATE tokens SET data = ?", (b"garbage",))
    db.commit()
    db.close()
    with RunStore(path) as store, pytest.raises(Exception) as info:
        store.tokens(run_id)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_inserted_is_nan():
    assert math.isnan(INSERTED)
