"""The pieces of ``thinkcli batch`` without a model: reading, grading, the output file, the sweep."""

from __future__ import annotations

import json

import pytest

from thinkcli.batch.grade import grade
from thinkcli.batch.problems import Problem, guess_format, parse_problems
from thinkcli.batch.results import ResultWriter, done_keys, read_records, record
from thinkcli.batch.sweep import curve, summarize, table, wilson
from thinkcli.errors import UsageError
from thinkcli.events import Result, SampleResult, Stats
from rich.console import Console


def test_jsonl_records_and_their_fields():
    text = "\n".join([
        json.dumps({"id": "a", "question": "1+1?", "answer": 2}),
        json.dumps({"prompt": "Capital of France?", "answer": "Paris", "effort": "low", "system": "Be brief."}),
        "",
        json.dumps({"id": 7, "question": "  spaced  "}),
    ])
    problems, skipped = parse_problems(text, "jsonl")
    assert skipped == []
    assert problems[0] == Problem("a", "1+1?", 1, answer="2")
    assert problems[1] == Problem("2", "Capital of France?", 2, answer="Paris", effort="low", system="Be brief.")
    assert problems[2] == Problem("7", "spaced", 4)


@pytest.mark.parametrize("line, why", [
    ("{not json", "line 2: not valid JSON"),
    ("[1, 2]", "line 2: expected a JSON object"),
    ('{"id": 1}', 'line 2: needs a non-empty "question"'),
    ('{"question": "q", "answer": [1]}', 'line 2: "answer" must be a string or a number'),
    ('{"question": "q", "effort": 3}', 'line 2: "effort" must be a string'),
    ('{"id": true, "question": "q"}', 'line 2: "id" must be a string or an integer'),
])
def test_a_malformed_line_is_reported_with_its_number_and_skipped(line, why):
    text = "\n".join([json.dumps({"question": "first"}), line, json.dumps({"question": "third"})])
    problems, skipped = parse_problems(text, "jsonl")
    assert [p.question for p in problems] == ["first", "third"]
    assert len(skipped) == 1 and skipped[0].startswith(why)


def test_a_repeated_id_keeps_the_first():
    text = "\n".join(json.dumps({"id": "x", "question": q}) for q in ("one", "two"))
    problems, skipped = parse_problems(text, "jsonl")
    assert [p.question for p in problems] == ["one"] and "appears twice" in skipped[0]


def test_text_lines_are_problems_numbered_by_line():
    problems, skipped = parse_problems("What is 2+2?\n\nName a colour.\n", "text")
    assert [(p.id, p.question) for p in problems] == [("1", "What is 2+2?"), ("3", "Name a colour.")]
    assert skipped == []


def test_the_format_follows_the_extension_unless_given():
    assert guess_format("p.jsonl", None) == "jsonl" and guess_format("p.txt", None) == "text"
    assert guess_format("-", None) == "text" and guess_format("p.txt", "jsonl") == "jsonl"
    with pytest.raises(UsageError, match="--format"):
        guess_format("p", "csv")


@pytest.mark.parametrize("answer, extracted, expected, right", [
    ("The answer is 1,000.", "1,000", "1000", True),
    ("So \\boxed{3/4}", "3/4", "0.75", False),  # a fraction and a decimal are spelled differently
    ("So \\boxed{3/4}", "3/4", "\\frac{3}{4}", True),
    ("Paris.", None, "paris", True),
    ("It is **Paris**!", "Paris", "Paris", True),
    ("The answer is 17.", "17", "The answer is 17", True),
    ("The answer is 16.", "16", "17", False),
    ("", None, "17", False),
    ("17", "17", "", False),
])
def test_grading_uses_the_votes_normalization(answer, extracted, expected, right):
    assert grade(answer, extracted, expected) is right


def _result(answer="The answer is 4.", extracted="4") -> Result:
    sample = SampleResult(reasoning="r", answer=answer, extracted=extracted, thinking_tokens=10, answer_tokens=5)
    return Result(answer=answer, reasoning="r", samples=[sample],
                  stats=Stats(generated_tokens=15, thinking_tokens=10, wall_s=1.5))


def test_a_record_holds_the_answer_paths_stats_and_grade():
    rec = record(Problem("a", "2+2?", 1, answer="4"), "low", _result())
    assert rec["id"] == "a" and rec["effort"] == "low" and rec["answer"] == "The answer is 4."
    assert rec["extracted"] == "4" and rec["correct"] is True and rec["expected"] == "4"
    assert rec["paths"][0]["thinking_tokens"] == 10 and rec["stats"]["generated_tokens"] == 15
    assert "reasoning" not in rec
    assert record(Problem("a", "q", 1), "low", _result(), show_reasoning=True)["reasoning"] == "r"
    failed = record(Problem("b", "q", 2, answer="4"), "low", None, error="too long")
    assert failed["error"] == "too long" and "correct" not in failed


def test_the_output_file_resumes_and_heals_a_torn_line(tmp_path):
    path = tmp_path / "out.jsonl"
    writer = ResultWriter.open(path, overwrite=False)
    writer.write(record(Problem("a", "q", 1), "low", _result()))
    writer.write(record(Problem("b", "q", 2), "low", None, error="boom"))
    writer.write(record(Problem("c", "q", 3), "low", _result()))
    writer.close()
    with path.open("a") as f:
        f.write('{"id": "d", "effort": "lo')  # killed mid-write
    assert done_keys(path) == {("a", "low"), ("c", "low")}  # a failed one is tried again
    writer = ResultWriter.open(path, overwrite=False)
    writer.write(record(Problem("d", "q", 4), "low", _result()))
    writer.close()
    assert [r["id"] for r in read_records(path)] == ["a", "b", "c", "d"]
    assert path.read_text().count("\n") == 4
    ResultWriter.open(path, overwrite=True).close()
    assert read_records(path) == []


def test_a_whole_last_record_without_a_newline_is_kept_and_counted(tmp_path):
    path = tmp_path / "out.jsonl"
    a = json.dumps(record(Problem("a", "q", 1), "low", _result()))
    b = json.dumps(record(Problem("b", "q", 2), "low", _result()))
    path.write_text(a + "\n" + b)  # the last record is whole; only its newline is missing
    assert done_keys(path) == {("a", "low"), ("b", "low")}
    writer = ResultWriter.open(path, overwrite=False)
    writer.write(record(Problem("c", "q", 3), "low", _result()))
    writer.close()
    assert [r["id"] for r in read_records(path)] == ["a", "b", "c"]
    assert path.read_text().count("\n") == 3


def test_a_record_holding_a_unicode_line_separator_is_one_record(tmp_path):
    path = tmp_path / "out.jsonl"
    writer = ResultWriter.open(path, overwrite=False)
    writer.write(record(Problem("a", "q", 1), "low", _result(answer="one\u2028two\x85three")))
    writer.close()  # json.dumps(ensure_ascii=False) leaves U+2028 and NEL unescaped
    assert [r["answer"] for r in read_records(path)] == ["one\u2028two\x85three"]
    assert done_keys(path) == {("a", "low")}


def test_a_torn_last_line_is_neither_counted_nor_kept(tmp_path):
    path = tmp_path / "out.jsonl"
    a = json.dumps(record(Problem("a", "q", 1), "low", _result()))
    path.write_text(a + "\n" + a[:-1].replace('"a"', '"b"'))  # the closing brace never made it
    assert done_keys(path) == {("a", "low")}
    ResultWriter.open(path, overwrite=False).close()
    assert path.read_text() == a + "\n"


def test_wilson_interval():
    low, high = wilson(8, 20)
    assert low == pytest.approx(0.2188, abs=1e-3) and high == pytest.approx(0.6134, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(20, 20)[1] == 1.0


def test_the_sweep_summary_table_and_curve():
    records = []
    for level, right, tokens in (("none", 3, 20), ("low", 5, 200), ("high", 6, 1000)):
        for i in range(10):
            rec = record(Problem(str(i), "q", i, answer="4"), level, _result())
            rec["correct"] = i < right
            rec["stats"]["generated_tokens"] = tokens
            records.append(rec)
    records.append(record(Problem("x", "q", 11), "none", None, error="boom"))
    records.append(record(Problem("y", "q", 12), "low", None, error="boom"))
    records.append(record(Problem("y", "q", 12), "high", None, error="boom"))
    records.append(dict(records[0], id="y", effort="high", correct=True))  # tried again: the latest counts
    rows = summarize(records, ["none", "low", "high"])
    assert [r.correct for r in rows] == [3, 5, 7] and rows[0].errors == 1 and rows[0].problems == 10
    assert rows[2].errors == 0 and rows[2].problems == 11 and rows[1].errors == 1
    assert rows[1].tokens_per_correct == pytest.approx(2000 / 5)
    assert rows[2].paths == 1 and rows[2].seconds == 1.5
    console = Console(width=100, record=True, color_system=None)
    console.print(table(rows))
    console.print(curve(rows))
    text = console.export_text()
    for heading in ("effort", "accuracy", "95% interval", "think tok", "paths", "s/problem", "tok/correct"):
        assert heading in text
    assert "30% (3/10)" in text and "+1 failed" in text
    assert "tokens per problem (log)" in text and text.count("●") == 3
    assert json.loads(json.dumps([r.to_dict() for r in rows]))[2]["accuracy"] == 7 / 11
