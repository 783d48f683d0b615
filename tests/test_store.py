"""The run log's store: records, search, sessions, privacy, concurrent writers and crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import thinkcli.runlog.store as store_module
from thinkcli.events import Result, SampleResult, Stats
from thinkcli.runlog.record import RunRecord, now
from thinkcli.runlog.store import RunStore, StoreError


def result(answer: str = "The answer is 19.", reasoning: str = "Let me add.", **kw) -> Result:
    samples = kw.pop("samples", None) or [SampleResult(reasoning=reasoning, answer=answer, extracted="19",
                                                        thinking_tokens=3, answer_tokens=5, think_end="stop")]
    return Result(answer=answer, reasoning=reasoning, model="smollm2-135m", effort="low", samples=samples, seed=7,
                  stats=Stats(thinking_tokens=3, answer_tokens=5, generated_tokens=8), **kw)


def run(question: str = "What is 12 + 7?", **kw) -> RunRecord:
    return RunRecord("ask", question, kw.pop("res", None) or result(), now(), **kw)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "data" / "thinkcli.db"


def test_a_run_comes_back_as_the_json_record_with_where_it_came_from(db):
    res = result()
    with RunStore(db) as store:
        run_id = store.record(run(system="Be brief.", plan={"effort": "low", "seed": 7}, res=res))
        record = store.get(run_id)
    assert {k: record[k] for k in res.to_dict()} == res.to_dict()
    assert record["id"] == run_id and record["command"] == "ask" and record["question"] == "What is 12 + 7?"
    assert record["system"] == "Be brief." and record["plan"] == {"effort": "low", "seed": 7}
    assert record["started"].endswith("Z") and record["finished"] >= record["started"]
    assert Result.from_dict(record) == res


def test_runs_list_newest_first_and_search_finds_words_in_question_or_answer(db):
    with RunStore(db) as store:
        first = store.record(run("What is 12+7?"))
        second = store.record(run("Name a prime.", res=result(answer="Seventeen is prime.")))
        third = store.record(run("Is 221 prime?"))
        assert [r["id"] for r in store.recent(10)] == [third, second, first]
        assert [r["id"] for r in store.recent(2)] == [third, second]
        assert [r["id"] for r in store.recent(10, query="prime")] == [third, second]
        assert [r["id"] for r in store.recent(10, query="seventeen")] == [second]
        assert [r["id"] for r in store.recent(10, query="12+7?")] == [first]  # punctuation is text, not syntax
        assert store.recent(10, query='"unbalanced') == []
        assert store.last()["id"] == third


def test_without_fts5_search_falls_back_to_like(db, monkeypatch):
    monkeypatch.setattr(store_module, "_FTS", ("CREATE VIRTUAL TABLE runs_fts USING no_such_module(question)",))
    with RunStore(db) as store:
        assert not store.fts
        store.record(run("What is 12+7?"))
        store.record(run("Name 100% of primes_", res=result(answer="none")))
        assert [r["question"] for r in store.recent(5, query="12+7")] == ["What is 12+7?"]
        assert [r["question"] for r in store.recent(5, query="100%")] == ["Name 100% of primes_"]
        assert store.recent(5, query="00_") == []


def test_the_file_and_its_journal_are_private(db):
    with RunStore(db) as store:
        store.record(run())
        wal = db.with_name(db.name + "-wal")
        assert wal.exists()
        assert oct(wal.stat().st_mode & 0o777) == "0o600"
    assert oct(db.stat().st_mode & 0o777) == "0o600"


def test_a_directory_made_for_the_log_is_private_and_one_already_there_is_left_alone(tmp_path):
    made = tmp_path / "fresh" / "thinkcli.db"
    RunStore(made).close()
    assert oct(made.parent.stat().st_mode & 0o777) == "0o700"
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    RunStore(shared / "thinkcli.db").close()
    assert oct(shared.stat().st_mode & 0o777) == "0o755"  # the user's own directory keeps their choice


def test_reading_a_missing_store_creates_nothing(db):
    with RunStore(db, create=False) as store:
        assert store.recent(5) == [] and store.last() is None and store.count() == 0
    assert not db.exists() and not db.parent.exists()


@pytest.mark.parametrize("damage", ["garbage", "a directory"])
def test_a_damaged_or_unreadable_store_is_a_store_error_naming_the_file(db, damage):
    with RunStore(db) as store:
        store.record(run())
    if damage == "garbage":
        db.write_bytes(b"this is not sqlite at all\n" * 200)
    else:
        for extra in db.parent.glob("thinkcli.db*"):
            extra.unlink()
        db.mkdir()
    with pytest.raises(StoreError, match=str(db)) as caught:
        with RunStore(db, create=False) as store:
            store.recent(5)
    assert "\n" not in str(caught.value)


def test_sessions_keep_the_newest_run_of_each_turn_up_to_their_length(db):
    with RunStore(db) as store:
        store.record(run("q1", session="work", turn=0), session_system="Be brief.")
        store.record(run("q2", session="work", turn=1), session_system="Be brief.")
        store.record(run("q2 again", session="work", turn=1), session_system="Be brief.")  # a retry
        store.record(run("other", session="play", turn=0))
        assert [r["question"] for r in store.session_turns("work", 2)] == ["q1", "q2 again"]
        store.set_session("work", system="Be brief.", turns=1)  # an undo
        assert [r["question"] for r in store.session_turns("work", 1)] == ["q1"]
        assert store.session("work")["system"] == "Be brief." and store.session("nope") is None
        assert store.last_session() == "work"
        assert store.count() == 4  # the log keeps every run


def test_clear_removes_everything_and_the_store_stays_usable(db):
    with RunStore(db) as store:
        store.record(run(session="s", turn=0), bump="hints")
        store.record(run("another"))
        assert store.clear() == 2
        assert store.count() == 0 and store.session("s") is None and store.counter("hints") == 0
        assert store.recent(5, query="another") == []
        store.record(run("after"))
        assert [r["question"] for r in store.recent(5, query="after")] == ["after"]


def test_counters_count(db):
    with RunStore(db) as store:
        assert store.counter("hints") == 0
        store.record(run(), bump="hints")
        store.record(run(), bump="hints")
        assert store.counter("hints") == 2


_WRITER = textwrap.dedent("""
    import sys
    from thinkcli.events import Result
    from thinkcli.runlog.record import RunRecord, now
    from thinkcli.runlog.store import RunStore
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.stdin.readline()  # all writers start together
    with RunStore(__import__("pathlib").Path(path)) as store:
        for i in range(n):
            store.record(RunRecord("ask", f"{tag} {i}", Result(answer=f"answer {tag} {i}"), now()))
""")


def _python(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen([sys.executable, *args], env=env, **kw)


def test_concurrent_writers_are_all_recorded(db):
    writers = [_python("-c", _WRITER, str(db), tag, "25", stdin=subprocess.PIPE, text=True) for tag in "abc"]
    for proc in writers:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in writers:
        proc.stdin.close()
        assert proc.wait(timeout=120) == 0
    with RunStore(db, create=False) as store:
        questions = {r["question"] for r in store.recent(1000)}
    assert questions == {f"{tag} {i}" for tag in "abc" for i in range(25)}


_TORN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from thinkcli.events import Result
    from thinkcli.runlog.record import RunRecord, now
    from thinkcli.runlog.store import RunStore
    store = RunStore(Path(sys.argv[1]))
    store.record(RunRecord("ask", "kept", Result(answer="whole"), now()))
    db = store._db
    db.execute("BEGIN IMMEDIATE")
    for i in range(2000):
        db.execute("INSERT INTO runs (started, finished, command, question, result) VALUES (?, ?, 'ask', ?, '{}')",
                   (now(), now(), "torn " + "x" * 500))
    print("mid-write", flush=True)
    time.sleep(60)
""")


def test_a_crash_mid_write_leaves_the_store_readable(db):
    child = _python("-c", _TORN, str(db), stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "mid-write"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    with RunStore(db) as store:
        assert [r["question"] for r in store.recent(10)] == ["kept"]
        assert store.recent(10, query="torn") == []
        store.record(run("after the crash"))
        assert store.count() == 2
