"""``thinkcli chat`` without a terminal: commands, completion, sessions, behind the fake engine."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

import thinkcli.cli as cli
import thinkcli.load
from thinkcli.chat.commands import CommandCompleter, CommandError, is_command, parse
from thinkcli.chat.repl import read_question
from thinkcli.chat.sessions import Conversation, Exchange, SessionStore, read_session, write_atomic
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.env import Environment
from thinkcli.errors import InputError
from thinkcli.runlog.store import RunStore

THOUGHT = ["Let", " me", " add", "</think>", "The", " answer", " is", " 19.", EOG]


class Outcome:
    def __init__(self, code: int, out: str, err: str, engine: FakeEngine):
        self.code, self.out, self.err, self.engine = code, out, err, engine


def chat(lines: list[str], *args: str, monkeypatch, scripts=(THOUGHT,), stdout_isatty=False, **engine_kw) -> Outcome:
    engine = FakeEngine(list(scripts), **engine_kw)
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.BytesIO("\n".join(lines).encode()), stdout=out, stderr=err,
                      stdin_isatty=False, stdout_isatty=stdout_isatty, vars=dict(os.environ))
    monkeypatch.setattr(cli, "_environment", lambda: env)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(thinkcli.load, "open_engine", lambda *a, **k: engine)
    code = cli.main(["chat", "--seed", "5", *args])
    return Outcome(code, out.getvalue(), err.getvalue(), engine)


def sessions(home) -> list[dict]:
    """Every chat session in the run log, as ``/save FILE.json`` writes it, by name."""
    with RunStore(home / "thinkcli.db", create=False) as runs:
        names = sorted(row["name"] for row in runs.sessions())
    store = SessionStore(home / "thinkcli.db", home / "sessions", write=False)
    try:
        return [store.open(name).to_dict() for name in names]
    finally:
        store.close()


# --- the command parser and completion --------------------------------------------------


@pytest.mark.parametrize("line, name, arg, number", [
    ("/help", "help", "", None),
    ("/effort", "effort", "", None),
    ("/effort  high ", "effort", "high", None),
    ("/think off", "think", "off", None),
    ("/budget 0", "budget", "0", 0),
    ("/samples 4", "samples", "4", 4),
    ("/trace 2", "trace", "2", 2),
    ("/system Be brief.", "system", "Be brief.", None),
    ("/SAVE notes.md", "save", "notes.md", None),
])
def test_commands_parse(line, name, arg, number):
    assert parse(line) == type(parse(line))(name, arg, number)


@pytest.mark.parametrize("line, hint", [
    ("/efort high", "unknown command /efort; did you mean /effort? (/help lists them)"),
    ("/frobnicate", "unknown command /frobnicate (/help lists them)"),
    ("/budget lots", "/budget needs a whole number, not 'lots'"),
    ("/samples 0", "/samples takes a number from 1 to 64, not 0"),
    ("/samples 65", "/samples takes a number from 1 to 64, not 65"),
    ("/think maybe", "usage: /think show|live|hide|on|off"),
    ("/undo 2", "/undo takes no argument"),
    ("/load", "usage: /load FILE"),
    ("/model", "usage: /model NAME"),
])
def test_bad_commands_get_a_one_line_hint(line, hint):
    with pytest.raises(CommandError) as info:
        parse(line)
    assert str(info.value) == hint


def test_only_slash_and_a_letter_make_a_command():
    assert is_command("/help") and is_command("  /undo")
    assert not is_command("/") and not is_command("/ 2") and not is_command("1/2 of what?")


def completions(text: str, tmp_path=None) -> list[str]:
    completer = CommandCompleter(efforts=lambda: ["low", "medium", "high"], models=lambda: ["smollm2-135m", "qwen3-1.7b"])
    return [c.text for c in completer.get_completions(Document(text, len(text)), CompleteEvent(completion_requested=True))]


def test_completion_of_commands_and_their_arguments(tmp_path, monkeypatch):
    assert completions("/ef") == ["/effort"]
    assert set(completions("/s")) == {"/samples", "/system", "/stats", "/save"}
    assert completions("/effort h") == ["high"]
    assert completions("/think o") == ["on", "off"]
    assert completions("/model q") == ["qwen3-1.7b"]
    assert completions("hello") == []
    (tmp_path / "notes.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert completions("/load no") == ["tes.json"]


def test_triple_quotes_gather_several_lines():
    lines = iter(['"""First line', "second line", 'end"""'])
    assert read_question(lambda prompt: next(lines)) == "First line\nsecond line\nend"
    assert read_question(lambda prompt: '"""one"""') == "one"
    assert read_question(lambda prompt: "plain") == "plain"


# --- turns, commands and sessions through the real CLI --------------------------------------


def test_two_turns_keep_the_conversation_without_its_reasoning(monkeypatch, isolated_home):
    r = chat(["What is 12+7?", "And doubled?"], monkeypatch=monkeypatch)
    assert r.code == 0
    assert r.out == "The answer is 19.\nThe answer is 19.\n"
    second = r.engine.prompts[1]
    assert "What is 12+7?" in second and "The answer is 19.<|im_end|>" in second and "And doubled?" in second
    assert "Let me add" not in second  # earlier reasoning is not sent back
    [doc] = sessions(isolated_home)
    assert oct((isolated_home / "thinkcli.db").stat().st_mode & 0o777) == "0o600"
    assert not (isolated_home / "sessions").exists()  # one store: no session files
    assert doc["format"] == "thinkcli-chat" and doc["version"] == 1
    turn = doc["turns"][0]
    assert turn["question"] == "What is 12+7?" and turn["reasoning"] == "Let me add"
    assert turn["answer"] == "The answer is 19." and turn["effort"] == "medium"
    assert turn["samples"][0]["think_end"] == "stop" and "reasoning" not in turn["samples"][0]
    assert set(turn["stats"]) >= {"prompt_tokens", "prompt_eval_tokens", "ttft_s", "decode_tok_per_s"}


def test_unknown_commands_never_reach_the_model(monkeypatch):
    r = chat(["/frobnicate", "/budget x", "/undo", "/trace"], monkeypatch=monkeypatch)
    assert r.code == 0 and r.engine.prompts == []
    assert "unknown command /frobnicate" in r.err and "/budget needs a whole number" in r.err
    assert r.err.count("no exchange yet") == 2


def test_effort_samples_and_budget_change_mid_session(monkeypatch, isolated_home):
    r = chat(["/effort", "q1", "/effort high", "q2", "/samples 2", "q3", "/budget 0", "q4"],
             monkeypatch=monkeypatch, scripts=[THOUGHT] * 8)
    assert r.code == 0
    assert "effort medium: thinks up to 1024 tokens, 1 path" in r.err
    assert "effort high: thinks up to 4096 tokens, 5 paths, vote" in r.err
    counts = [len(b.scripts) for b in r.engine.batches]
    assert counts == [1, 5, 2, 2]
    doc = sessions(isolated_home)[0]
    assert [t["effort"] for t in doc["turns"]] == ["medium", "high", "high", "high"]
    assert doc["turns"][3]["samples"][0]["think_end"] == "none"  # /budget 0: no thinking


def test_undo_retry_and_clear(monkeypatch, isolated_home):
    r = chat(["first", "second", "/undo", "third", "/retry", "/clear", "fourth"], monkeypatch=monkeypatch)
    assert r.code == 0
    assert "dropped: second" in r.err
    assert "second" not in r.engine.prompts[2]  # undone before the third question
    assert r.engine.prompts[3] == r.engine.prompts[2]  # the same question again...
    assert r.engine.seeds[3] != r.engine.seeds[2]  # ...with a new seed
    assert "first" not in r.engine.prompts[4]  # cleared
    kept = sessions(isolated_home)
    assert len(kept) == 2
    assert sorted(len(d["turns"]) for d in kept) == [1, 2]


def test_system_trace_copy_and_stats(monkeypatch):
    r = chat(["/system Be brief.", "/system", "q", "/trace", "/trace 1", "/trace 2", "/copy", "/stats"],
             monkeypatch=monkeypatch)
    assert "system prompt: 'Be brief.'" in r.err
    assert r.engine.prompts[0].startswith("<|im_start|>system\nBe brief.")
    assert r.out.count("Let me add") == 2
    assert "the last turn explored 1 path(s)" in r.err
    assert "\x1b]52" not in r.out and "nothing copied: stdout is not a terminal" in r.err
    assert "evaluated" in r.err and "reused" in r.err


def test_copy_writes_the_clipboard_escape_to_a_terminal(monkeypatch):
    r = chat(["q", "/copy"], monkeypatch=monkeypatch, stdout_isatty=True)
    assert "\x1b]52;c;VGhlIGFuc3dlciBpcyAxOS4=\x07" in r.out  # base64 of the answer
    assert "copied 17 characters" in r.err


def test_continue_resumes_the_last_session(monkeypatch, isolated_home):
    chat(["What is 12+7?"], monkeypatch=monkeypatch)
    r = chat(["And doubled?"], "--continue", monkeypatch=monkeypatch)
    assert "resumed 1 exchange(s)" in r.err
    assert "What is 12+7?" in r.engine.prompts[0] and "The answer is 19." in r.engine.prompts[0]
    [doc] = sessions(isolated_home)
    assert len(doc["turns"]) == 2


def test_named_sessions(monkeypatch, isolated_home):
    chat(["one"], "--session", "work", monkeypatch=monkeypatch)
    chat(["other"], monkeypatch=monkeypatch)
    r = chat(["two"], "--session", "work", monkeypatch=monkeypatch)
    assert "one" in r.engine.prompts[0] and "other" not in r.engine.prompts[0]
    assert {d["name"]: len(d["turns"]) for d in sessions(isolated_home)}["work"] == 2
    r = chat([], "--session", "../evil", monkeypatch=monkeypatch)
    assert r.code == 1 and "session name" in r.err


def test_save_and_load(monkeypatch, tmp_path):
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    r = chat(["What is 12+7?", f"/save {md}", f"/save {js}", f"/save {tmp_path / 't.txt'}"], monkeypatch=monkeypatch)
    text = md.read_text()
    assert "## 1. What is 12+7?" in text and "The answer is 19." in text and "<details>" in text
    assert "/save FILE.md writes a transcript" in r.err
    r = chat([f"/load {js}", "And doubled?"], monkeypatch=monkeypatch)
    assert "loaded" in r.err and "What is 12+7?" in r.engine.prompts[0]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON (line 1)"),
    ('{"format": "something-else"}', "not a thinkcli chat session"),
    ('{"format": "thinkcli-chat", "version": 99, "name": "x", "turns": []}', "newer than this thinkcli reads"),
    ('{"format": "thinkcli-chat", "version": 1, "name": "x", "turns": [{"answer": 1}]}', "a malformed session"),
])
def test_a_bad_session_file_is_one_line_and_the_session_is_kept(monkeypatch, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = chat(["first", f"/load {bad}", "second"], monkeypatch=monkeypatch)
    [line] = [line for line in r.err.splitlines() if "bad.json" in line]
    assert message in line and line.startswith("error: ")
    assert "first" in r.engine.prompts[1]  # the current conversation went on
    assert "Traceback" not in r.err


def test_a_long_conversation_drops_its_oldest_exchanges(monkeypatch):
    long = "word " * 150
    r = chat([f"{long} one", f"{long} two", f"{long} three", "four"], "-e", "low", monkeypatch=monkeypatch, n_ctx=1024)
    assert r.code == 0
    assert r.err.count("no longer sent to the model") >= 1
    assert "one" not in r.engine.prompts[-1] and "four" in r.engine.prompts[-1]


def test_bare_thinkcli_off_a_terminal_prints_help(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.BytesIO(), stdout=out, stderr=err, stdin_isatty=False, stdout_isatty=False)
    monkeypatch.setattr(cli, "_environment", lambda: env)
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main([]) == 0
    assert "chat" in out.getvalue() and "ask" in out.getvalue()


def test_sessions_are_kept_in_the_run_log_and_files_read_strictly(tmp_path):
    store = SessionStore(tmp_path / "thinkcli.db", tmp_path / "sessions")
    conv = Conversation(name="a", system="s", exchanges=[Exchange("q", answer="a", reasoning="r", paths=["r"],
                                                                 samples=[{"think_end": "stop"}])])
    store.keep(conv)
    back = store.open("a")
    assert back.system == "s" and back.exchanges[0].answer == "a" and back.exchanges[0].paths == ["r"]
    assert back.exchanges[0].samples[0]["think_end"] == "stop" and back.exchanges[0].run is not None
    assert store.last().name == "a" and store.open("b").exchanges == []
    store.close()
    write_atomic(tmp_path / "x.json", json.dumps(conv.to_dict()))
    assert read_session(tmp_path / "x.json").exchanges[0].answer == "a"
    assert [p.name for p in tmp_path.glob("x.json*")] == ["x.json"]  # no temporary file left
    with pytest.raises(InputError, match="no such file"):
        read_session(tmp_path / "missing.json")


def test_think_switches_display_and_thinking(monkeypatch, isolated_home):
    r = chat(["/think off", "q1", "/think on", "/think show", "q2"], monkeypatch=monkeypatch)
    assert "thinking off" in r.err and "reasoning display: show" in r.err
    doc = sessions(isolated_home)[0]
    assert [t["samples"][0]["think_end"] for t in doc["turns"]] == ["none", "stop"]
    assert "Let me add" in r.err  # shown on stderr once the display is "show"


def test_model_switches_in_place_and_a_bad_one_keeps_the_current(monkeypatch):
    engines = {"a": FakeEngine([THOUGHT], name="a"), "b": FakeEngine([THOUGHT], name="b")}
    out, err = io.StringIO(), io.StringIO()
    lines = "q1\n/model b\nq2\n/model nope\nq3\n"
    env = Environment(stdin=io.BytesIO(lines.encode()), stdout=out, stderr=err, stdin_isatty=False,
                      stdout_isatty=False, vars=dict(os.environ))

    def opener(settings, *a, **k):
        if settings.model not in engines:
            raise InputError(f"no model {settings.model}")
        return engines[settings.model]

    monkeypatch.setattr(cli, "_environment", lambda: env)
    monkeypatch.setattr(thinkcli.load, "open_engine", opener)
    assert cli.main(["chat", "-m", "a"]) == 0
    assert len(engines["a"].prompts) == 1 and len(engines["b"].prompts) == 2  # q3 stayed on b
    assert "q1" in engines["b"].prompts[0]  # the conversation went along
    assert "error: no model nope" in err.getvalue()


def test_edit_composes_in_the_editor(monkeypatch):
    from thinkcli.chat.actions import compose

    def editor(args):
        Path(args[-1]).write_text("A question\nover two lines\n")
        return type("Done", (), {"returncode": 0})()

    assert compose({"EDITOR": "myeditor --wait"}, run=editor) == "A question\nover two lines\n"
    with pytest.raises(CommandError, match="could not start the editor"):
        compose({"VISUAL": "/no/such/editor"})
    with pytest.raises(CommandError, match="failed; nothing sent"):
        compose({"EDITOR": "false"})


def test_the_system_prompt_is_saved_and_a_new_one_wins_on_continue(monkeypatch):
    chat(["q1"], "--system", "Be brief.", monkeypatch=monkeypatch)
    r = chat(["q2"], "--continue", monkeypatch=monkeypatch)
    assert r.engine.prompts[0].startswith("<|im_start|>system\nBe brief.")
    r = chat(["q3"], "--continue", "--system", "Be kind.", monkeypatch=monkeypatch)
    assert r.engine.prompts[0].startswith("<|im_start|>system\nBe kind.")


KEEPS_REASONING = (
    "{% for m in messages %}<{{ m.role }}>{% if m.reasoning_content %}[r:{{ m.reasoning_content }}]{% endif %}"
    "{{ m.content }}</{{ m.role }}>{% endfor %}<assistant>"
)
PLAIN = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}<assistant>"


def test_earlier_reasoning_goes_where_the_template_reads_it_and_never_into_the_answer():
    conv = Conversation(name="a", system="", exchanges=[Exchange("q1", answer="4", reasoning="two and two")])
    kept = conv.messages("q2", chat_template=KEEPS_REASONING)
    assert kept[1] == {"role": "assistant", "content": "4", "reasoning_content": "two and two"}
    dropped = conv.messages("q2", chat_template=PLAIN)
    assert dropped[1] == {"role": "assistant", "content": "4"}
    assert all("two and two" not in m["content"] for m in kept + dropped)


def _legacy(home, name: str, questions: list[str], mtime: float) -> Path:
    conv = Conversation(name=name, system="Old rules.",
                        exchanges=[Exchange(q, answer=f"answer to {q}", reasoning="thought", paths=["thought"],
                                            samples=[{"think_end": "stop"}], stats={"thinking_tokens": 3})
                                   for q in questions])
    path = home / "sessions" / f"{name}.json"
    write_atomic(path, json.dumps(conv.to_dict()))
    os.utime(path, (mtime, mtime))
    return path


def test_session_files_of_earlier_versions_are_imported_once_and_left_in_place(monkeypatch, isolated_home):
    old = _legacy(isolated_home, "old", ["What is 12+7?"], 1_000_000)
    older = _legacy(isolated_home, "older", ["Ancient question"], 900_000)
    before = old.read_bytes()
    r = chat(["And doubled?"], "--continue", monkeypatch=monkeypatch)
    assert "resumed 1 exchange(s)" in r.err and "session old" in r.err
    assert "What is 12+7?" in r.engine.prompts[0] and "answer to What is 12+7?" in r.engine.prompts[0]
    assert r.engine.prompts[0].startswith("<|im_start|>system\nOld rules.")
    docs = {d["name"]: d for d in sessions(isolated_home)}
    assert [t["question"] for t in docs["old"]["turns"]] == ["What is 12+7?", "And doubled?"]
    assert [t["question"] for t in docs["older"]["turns"]] == ["Ancient question"]
    assert docs["older"]["created"] == json.loads(older.read_text())["created"]
    assert old.read_bytes() == before and older.exists()  # read, never changed
    chat(["again"], "--session", "old", monkeypatch=monkeypatch)  # not imported a second time
    docs = {d["name"]: d for d in sessions(isolated_home)}
    assert [t["question"] for t in docs["old"]["turns"]] == ["What is 12+7?", "And doubled?", "again"]
    r = chat(["/trace"], "--session", "older", monkeypatch=monkeypatch)
    assert r.out == "thought\n"


def test_a_named_session_file_is_imported_when_first_looked_up(monkeypatch, isolated_home):
    _legacy(isolated_home, "work", ["one"], 1_000_000)
    r = chat(["two"], "--session", "work", monkeypatch=monkeypatch)
    assert "one" in r.engine.prompts[0] and "answer to one" in r.engine.prompts[0]
    [doc] = sessions(isolated_home)
    assert [t["question"] for t in doc["turns"]] == ["one", "two"] and doc["system"] == "Old rules."


def test_chat_turns_are_runs_of_the_log_and_trace_reads_them(monkeypatch, isolated_home):
    paths = [["Add.", "</think>", "It is 19.", EOG], ["Count.", "</think>", "It is 19.", EOG]]
    r = chat(["/samples 2", "q", "/trace", "/trace 2"], "-t", "0.7", monkeypatch=monkeypatch, scripts=paths)
    out = r.out.splitlines()
    assert out[0] == "It is 19."
    assert out[1].startswith("── path 1 · 19 · confidence") and out[2] == "Add." and out[3] == ""
    assert out[4].startswith("── path 2 · 19 · confidence") and out[5] == "Count."
    assert sum(line.endswith(" · chosen") for line in out) == 1
    assert out[6:] == ["Count."]  # /trace 2
    with RunStore(isolated_home / "thinkcli.db", create=False) as store:
        [run] = store.recent(5, full=True)
    assert run["command"] == "chat" and run["turn"] == 0 and run["session"] == sessions(isolated_home)[0]["name"]
    assert [s["reasoning"] for s in run["samples"]] == ["Add.", "Count."] and run["plan"]["samples"] == 2


def test_chat_with_logging_off_keeps_nothing(monkeypatch, isolated_home):
    r = chat(["q", "/trace", "/save"], "--no-log", monkeypatch=monkeypatch)
    assert r.code == 0 and r.out.count("Let me add") == 1 and "logging is off" in r.err
    assert not (isolated_home / "thinkcli.db").exists() and not (isolated_home / "sessions").exists()


def test_load_continues_the_file_as_a_session_of_the_log(monkeypatch, isolated_home, tmp_path):
    js = tmp_path / "t.json"
    chat(["What is 12+7?", f"/save {js}"], monkeypatch=monkeypatch)
    doc = json.loads(js.read_text())
    doc["name"] = "imported"
    js.write_text(json.dumps(doc))
    r = chat([f"/load {js}", "And doubled?", "/save"], monkeypatch=monkeypatch)
    assert "loaded imported: 1 exchange(s)" in r.err and "session imported is kept" in r.err
    docs = {d["name"]: d for d in sessions(isolated_home)}
    assert [t["question"] for t in docs["imported"]["turns"]] == ["What is 12+7?", "And doubled?"]


def test_log_clear_deletes_imported_sessions_for_good(monkeypatch, isolated_home):
    file = _legacy(isolated_home, "old", ["What is 12+7?"], 1_000_000)
    chat(["q"], "--continue", monkeypatch=monkeypatch)
    assert len(sessions(isolated_home)) == 1
    monkeypatch.setattr(cli, "_environment", lambda: Environment(
        stdin=io.BytesIO(), stdout=io.StringIO(), stderr=io.StringIO(), stdin_isatty=False, stdout_isatty=False,
        vars=dict(os.environ)))
    assert cli.main(["log", "--clear", "--yes"]) == 0
    r = chat(["new question"], "--continue", monkeypatch=monkeypatch)
    assert "no saved session to continue" in r.err and "What is 12+7?" not in r.engine.prompts[0]
    assert file.exists()  # the file itself is the user's


def test_with_logging_off_a_session_file_is_read_but_nothing_is_written(monkeypatch, isolated_home):
    _legacy(isolated_home, "old", ["What is 12+7?"], 1_000_000)
    r = chat(["And doubled?"], "--continue", "--no-log", monkeypatch=monkeypatch)
    assert "resumed 1 exchange(s)" in r.err and "What is 12+7?" in r.engine.prompts[0]
    assert not (isolated_home / "thinkcli.db").exists()


def test_a_question_too_long_for_the_context_keeps_the_history_for_the_next(monkeypatch):
    huge = "word " * 3000
    r = chat(["one", "two", "three", huge, "four"], "-e", "low", monkeypatch=monkeypatch, n_ctx=1024)
    assert r.code == 0
    assert "error: " in r.err  # the long question did not fit
    assert "no longer sent to the model" not in r.err  # and dropped nothing on its way out
    assert all(word in r.engine.prompts[-1] for word in ("one", "two", "three", "four"))
