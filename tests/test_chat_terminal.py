"""``thinkcli chat`` on the real small model in a pseudo-terminal, read back through pyte."""

from __future__ import annotations

import io
import os
import sys

import pexpect
import pytest

from test_terminal import COLS, ROWS, screen_of
from thinkcli.chat.sessions import SessionStore
from thinkcli.reasoning import PROMPTED_PREFILL

pytestmark = pytest.mark.model
PROMPT_STARTS = "\x1b[?2004h"  # each new prompt turns bracketed paste on; redraws while typing don't
SMALL = ("--seed", "1", "--think-budget", "24", "--max-tokens", "24")


def spawn(home, *args: str, command: tuple[str, ...] = ("chat",), **variables: str) -> pexpect.spawn:
    env = {**os.environ, "THINKCLI_HOME": str(home), "TERM": "xterm-256color", "COLUMNS": str(COLS),
           "LINES": str(ROWS), "PROMPT_TOOLKIT_NO_CPR": "1", "EDITOR": "true", "VISUAL": "", **variables}
    child = pexpect.spawn(sys.executable, ["-m", "thinkcli", *command, *args], env=env, dimensions=(ROWS, COLS),
                          encoding="utf-8", timeout=240)
    child.logfile_read = io.StringIO()  # everything the terminal received
    return child


def wait_prompt(child: pexpect.spawn) -> None:
    child.expect_exact(PROMPT_STARTS)
    child.expect_exact(">>>")


def say(child: pexpect.spawn, line: str) -> None:
    """Type a line at the prompt and wait for the next prompt."""
    child.sendline(line)
    wait_prompt(child)


def leave(child: pexpect.spawn) -> str:
    """Ctrl-D; returns all the program wrote."""
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    return child.logfile_read.getvalue()


def session_doc(home) -> dict:
    """The one chat session in the run log, as ``/save FILE.json`` writes it."""
    store = SessionStore(home / "thinkcli.db", home / "sessions", write=False)
    try:
        assert len(store.store().sessions()) == 1
        return store.last().to_dict()
    finally:
        store.close()


def prefill_tokens(model_path) -> int:
    from thinkcli.engine.llama import LlamaEngine

    engine = LlamaEngine(model_path, name="m", ctx=256, threads=1, n_seq_max=1)
    try:
        return engine.count_tokens(PROMPTED_PREFILL)
    finally:
        engine.close()


def test_a_follow_up_evaluates_only_what_is_new(home_with_model, model_path):
    child = spawn(home_with_model, *SMALL)
    wait_prompt(child)
    say(child, "What is 12 + 7?")
    say(child, "And what is 3 + 4?")
    say(child, "/stats")
    raw = leave(child)
    assert child.exitstatus == 0 and "Traceback" not in raw
    first, second = (turn["stats"] for turn in session_doc(home_with_model)["turns"])
    assert first["prompt_eval_tokens"] == first["prompt_tokens"]
    # The cache holds the first prompt up to its thinking prefill; the follow-up adds the
    # first answer, the template's framing, the new question and the prefill again.
    new = second["prompt_tokens"] - (first["prompt_tokens"] - prefill_tokens(model_path))
    assert second["prompt_eval_tokens"] == new < first["prompt_tokens"]
    screen = "\n".join(screen_of(raw))
    assert "evaluated" in screen and "reused" in screen


def test_effort_high_mid_session(home_with_model):
    child = spawn(home_with_model, "-e", "low", *SMALL)
    wait_prompt(child)
    say(child, "What is 2 + 2?")
    say(child, "/effort high")
    say(child, "/budget 24")
    say(child, "What is 5 + 5?")
    raw = leave(child)
    assert child.exitstatus == 0
    screen = "\n".join(screen_of(raw))
    assert "effort high: thinks up to 4096 tokens, 5 paths, vote" in screen
    assert "Explored 5 paths" in screen
    turns = session_doc(home_with_model)["turns"]
    assert [t["effort"] for t in turns] == ["low", "high"] and len(turns[1]["samples"]) == 5


def test_ctrl_c_stops_the_turn_and_the_chat_goes_on(home_with_model):
    child = spawn(home_with_model, "--seed", "3", "--think-budget", "4000", "--min-think", "3000", "--max-tokens", "24")
    wait_prompt(child)
    child.sendline("Write a very long essay about the history of mathematics.")
    child.expect("Thinking")
    child.expect(r"\d+ tokens")
    child.sendintr()
    wait_prompt(child)
    say(child, "/budget 16")
    say(child, "What is 1 + 1?")
    child.sendintr()  # at an empty prompt: a hint, not an exit
    child.expect_exact("Ctrl-D or /exit to leave")
    wait_prompt(child)  # a Ctrl-D typed before the prompt reads again is eaten by the terminal's line discipline
    raw = leave(child)
    assert child.exitstatus == 0 and "Traceback" not in raw
    assert "(interrupted)" in "\n".join(screen_of(raw))
    turns = session_doc(home_with_model)["turns"]
    assert [t["interrupted"] for t in turns] == [True, False]


def test_undo_retry_clear_and_a_broken_session_file(home_with_model, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "thinkcli-chat", "turns": [')
    child = spawn(home_with_model, "--no-think", "--max-tokens", "16", "--seed", "1")
    wait_prompt(child)
    say(child, "Name a colour.")
    say(child, "Name a fruit.")
    say(child, "/undo")
    say(child, "/retry")
    say(child, f"/load {broken}")
    say(child, "/frobnicate")
    raw = leave(child)
    screen = "\n".join(screen_of(raw))
    assert "dropped: Name a fruit." in screen
    assert "not valid JSON" in screen and "unknown command /frobnicate" in screen
    turns = session_doc(home_with_model)["turns"]
    assert [t["question"] for t in turns] == ["Name a colour."]  # /retry replaced it in place
    child = spawn(home_with_model, "--continue", "--no-think", "--max-tokens", "16")
    wait_prompt(child)
    say(child, "/clear")
    say(child, "/stats")
    raw = leave(child)
    assert "conversation cleared" in raw and "no turns yet" in raw


def test_quit_and_continue_with_the_history_there(home_with_model):
    child = spawn(home_with_model, "--no-think", "--max-tokens", "16", "--seed", "1")
    wait_prompt(child)
    say(child, "What is the capital of France?")
    leave(child)
    history = home_with_model / "history"
    assert oct(history.stat().st_mode & 0o777) == "0o600"
    assert "What is the capital of France?" in history.read_text()
    child = spawn(home_with_model, "--continue", "--no-think", "--max-tokens", "16")
    child.expect_exact("resumed 1 exchange(s)")
    wait_prompt(child)
    child.send("\x1b[A")  # Up: the last line typed comes back from the history
    child.expect_exact("capital of France?")
    child.sendline("")
    wait_prompt(child)
    leave(child)
    turns = session_doc(home_with_model)["turns"]
    assert [t["question"] for t in turns] == ["What is the capital of France?"] * 2


def test_bare_thinkcli_on_a_terminal_chats_and_a_kill_loses_at_most_the_turn(home_with_model):
    child = spawn(home_with_model, command=(), THINKCLI_EFFORT="none", THINKCLI_MAX_TOKENS="16", THINKCLI_SEED="1")
    wait_prompt(child)
    say(child, "What is the capital of France?")
    say(child, "/budget 4000")
    child.sendline("Write a very long essay about the history of mathematics.")
    child.expect_exact("Thinking")  # the second turn is under way
    child.kill(9)
    child.close()
    child = spawn(home_with_model, "--continue", "--no-think", "--max-tokens", "16")
    child.expect_exact("resumed 1 exchange(s)")
    wait_prompt(child)
    leave(child)
    turns = session_doc(home_with_model)["turns"]
    assert [t["question"] for t in turns] == ["What is the capital of France?"]


def test_history_off_keeps_no_file(home_with_model):
    child = spawn(home_with_model, THINKCLI_HISTORY="false")
    wait_prompt(child)
    say(child, "/help")
    raw = leave(child)
    assert "/effort [LEVEL]" in raw
    assert not (home_with_model / "history").exists()


def test_ctrl_g_edit_and_alt_enter(home_with_model, tmp_path):
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Name a colour." > "$1"\n')
    editor.chmod(0o755)
    child = spawn(home_with_model, "--no-think", "--max-tokens", "8", "--seed", "1", EDITOR=str(editor))
    wait_prompt(child)
    child.sendcontrol("g")
    wait_prompt(child)  # the prompt is redrawn once the editor returns...
    wait_prompt(child)  # ...and the next one comes after the turn
    say(child, "/edit")
    child.send("Line one")
    child.send("\x1b\r")  # Esc Enter: a newline, not the end of the question
    child.send("line two\r")
    wait_prompt(child)
    leave(child)
    questions = [t["question"] for t in session_doc(home_with_model)["turns"]]
    assert questions == ["Name a colour.", "Name a colour.", "Line one\nline two"]
