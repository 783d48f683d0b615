"""The CLI end to end behind the scripted engine: input, output, errors, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import thinkcli.cli as cli
import thinkcli.load
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.env import Environment

THOUGHT = ["Let", " me", " add", " them.", "</think>", "The", " answer", " is", " 19."]


class Outcome:
    def __init__(self, code: int, out: str, err: str, engine: FakeEngine):
        self.code, self.out, self.err, self.engine = code, out, err, engine


def run_cli(args, *, stdin: bytes | None = None, scripts=(THOUGHT,), monkeypatch, env=None, **engine_kw) -> Outcome:
    engine = FakeEngine(list(scripts), **engine_kw)
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(
        stdin=io.BytesIO(stdin or b""),
        stdout=out,
        stderr=err,
        stdin_isatty=stdin is None,
        stdout_isatty=False,
        vars={**__import__("os").environ, **(env or {})},
    )
    monkeypatch.setattr(cli, "_environment", lambda: environment)
    monkeypatch.setattr(sys, "stderr", err)  # the error boundary writes to the process's stderr
    monkeypatch.setattr(thinkcli.load, "open_engine", lambda *a, **k: engine)
    code = cli.main(list(args))
    return Outcome(code, out.getvalue(), err.getvalue(), engine)


def test_ask_prints_only_the_answer_on_a_pipe(monkeypatch):
    r = run_cli(["ask", "What is 12+7?"], monkeypatch=monkeypatch)
    assert r.code == 0
    assert r.out == "The answer is 19.\n"
    assert "Let me add" not in r.out + r.err
    assert "What is 12+7?" in r.engine.prompts[0]


def test_missing_chat_template_falls_back_to_chatml_with_a_warning(monkeypatch):
    r = run_cli(["ask", "q"], monkeypatch=monkeypatch)
    assert "no chat template; using ChatML" in r.err
    assert r.engine.prompts[0].startswith("<|im_start|>system")
    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
    r = run_cli(["ask", "q"], monkeypatch=monkeypatch, chat_template=template)
    assert "chat template" not in r.err  # a template without thinking tags: its levels answer directly
    assert r.engine.prompts[0] == "[user] q\n[assistant] "
    r = run_cli(["ask", "--think-budget", "64", "q"], monkeypatch=monkeypatch, chat_template=template)
    assert r.engine.prompts[0].startswith("[system]") and r.engine.prompts[0].endswith("[assistant] <think>\n")


def test_models_table_survives_a_broken_file(home_with_model, capsys):
    (home_with_model / "models" / "[odd] name.gguf").write_bytes(b"GGUF\x03\x00")
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m" in out and "[odd] name.gguf" in out and "truncated" in out


def test_show_thinking_sends_the_trace_to_stderr(monkeypatch):
    r = run_cli(["ask", "--show-thinking", "q"], monkeypatch=monkeypatch)
    assert r.out == "The answer is 19.\n"
    assert "Let me add them." in r.err
    assert "\x1b[" not in r.out


def test_piped_stdin_is_the_question(monkeypatch):
    r = run_cli(["ask"], stdin=b"What is 2+2?\n", monkeypatch=monkeypatch)
    assert r.code == 0
    assert "What is 2+2?" in r.engine.prompts[0]


def test_stdin_is_context_for_the_question(monkeypatch):
    r = run_cli(["ask", "Summarize this"], stdin=b"NOTES: the sky is blue", monkeypatch=monkeypatch)
    prompt = r.engine.prompts[0]
    assert prompt.index("NOTES: the sky is blue") < prompt.index("Summarize this")


def test_files_are_read(monkeypatch, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("first problem")
    b.write_text("second part")
    r = run_cli(["ask", "-f", str(a), "--file", str(b)], monkeypatch=monkeypatch)
    assert r.code == 0
    assert "first problem" in r.engine.prompts[0] and "second part" in r.engine.prompts[0]


def test_no_question_is_a_usage_error(monkeypatch):
    r = run_cli(["ask"], monkeypatch=monkeypatch)
    assert r.code == 2
    assert r.err.startswith("thinkcli: error: no question")
    assert r.err.count("\n") == 1


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["ask", "-f", "/nonexistent/p.txt"], None, "/nonexistent/p.txt: no such file"),
        (["ask"], b"\xff\xfe bad", "standard input is not UTF-8"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(monkeypatch, args, stdin, message):
    r = run_cli(args, stdin=stdin, monkeypatch=monkeypatch)
    assert r.code == 1
    assert message in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_non_utf8_file(monkeypatch, tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    r = run_cli(["ask", "-f", str(bad)], monkeypatch=monkeypatch)
    assert r.code == 1 and "is not UTF-8 text" in r.err


def test_unknown_option_is_usage_error(monkeypatch):
    r = run_cli(["ask", "--nope", "q"], monkeypatch=monkeypatch)
    assert r.code == 2
    assert "--nope" in r.err and r.err.count("\n") == 1


def test_unknown_effort_is_usage_error(monkeypatch):
    r = run_cli(["ask", "-e", "extreme", "q"], monkeypatch=monkeypatch)
    assert r.code == 2
    assert "unknown effort 'extreme'" in r.err
    r = run_cli(["ask", "-e", "hihg", "q"], monkeypatch=monkeypatch)
    assert r.code == 2 and "(did you mean 'high'?)" in r.err
    r = run_cli(["ask", "q"], monkeypatch=monkeypatch, env={"THINKCLI_EFFORT": "hgh"})
    assert r.code == 1 and "THINKCLI_EFFORT: unknown effort 'hgh' (did you mean 'high'?)" in r.err


def test_unknown_effort_in_the_config_file_blames_the_file(monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("effort = 'hihg'\n")
    r = run_cli(["ask", "q"], monkeypatch=monkeypatch, env={"THINKCLI_CONFIG": str(config)})
    assert r.code == 1 and str(config) in r.err and "did you mean 'high'" in r.err


def test_conflicting_thinking_flags(monkeypatch):
    r = run_cli(["ask", "--show-thinking", "--hide-thinking", "q"], monkeypatch=monkeypatch)
    assert r.code == 2


def test_bad_config_names_file_and_line(monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("effort = 'high'\nctx = = 3\n")
    r = run_cli(["ask", "q"], monkeypatch=monkeypatch, env={"THINKCLI_CONFIG": str(config)})
    assert r.code == 1
    assert str(config) in r.err and "line" in r.err


def test_config_file_and_env_reach_the_run(monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('system = "You are terse."\n')
    r = run_cli(["ask", "q"], monkeypatch=monkeypatch, env={"THINKCLI_CONFIG": str(config)})
    assert "You are terse." in r.engine.prompts[0]
    r = run_cli(["ask", "-s", "Flag wins.", "q"], monkeypatch=monkeypatch,
                env={"THINKCLI_CONFIG": str(config), "THINKCLI_SYSTEM": "Env loses."})
    assert "Flag wins." in r.engine.prompts[0] and "Env loses." not in r.engine.prompts[0]


def test_json_schema(monkeypatch):
    r = run_cli(["ask", "--json", "--seed", "3", "q"], monkeypatch=monkeypatch)
    doc = json.loads(r.out)
    assert doc["answer"] == "The answer is 19."
    assert doc["reasoning"] == "Let me add them."
    assert doc["model"] == "fake" and doc["effort"] == "medium"
    assert set(doc["stats"]) >= {
        "prompt_tokens", "prompt_eval_tokens", "answer_tokens", "thinking_tokens",
        "load_s", "ttft_s", "wall_s", "decode_tok_per_s",
    }
    assert doc["stats"]["thinking_tokens"] == 5 and doc["stats"]["answer_tokens"] == 4
    assert len(doc["samples"]) == 1 and doc["chosen"] == 0
    assert doc["samples"][0]["think_end"] == "stop"
    assert r.engine.seeds == [[3]] and doc["seed"] == 3


def test_json_records_a_random_seed_that_reproduces_the_run(monkeypatch):
    first = json.loads(run_cli(["ask", "--json", "--samples", "2", "q"], monkeypatch=monkeypatch).out)
    again = run_cli(["ask", "--json", "--samples", "2", "--seed", str(first["seed"]), "q"], monkeypatch=monkeypatch)
    assert isinstance(first["seed"], int)
    assert again.engine.seeds == [[first["seed"], first["seed"] + 1]]


def test_no_think_disables_thinking(monkeypatch):
    r = run_cli(["ask", "--no-think", "--json", "q"], scripts=[["Just", " 19."]], monkeypatch=monkeypatch)
    doc = json.loads(r.out)
    assert doc["answer"] == "Just 19." and doc["reasoning"] == ""
    assert "<think>" not in r.engine.prompts[0]


def test_samples_flag_explores_in_one_batch(monkeypatch):
    scripts = [["a", "</think>", "It is 4."], ["b", "</think>", "It is 4."], ["c", "</think>", "It is 5."]]
    r = run_cli(["ask", "--samples", "3", "--json", "q"], scripts=scripts, monkeypatch=monkeypatch)
    doc = json.loads(r.out)
    assert len(doc["samples"]) == 3 and len(r.engine.batches) == 1
    assert doc["answer"] == "It is 4." and set(doc["votes"]) == {"4", "5"}


def test_budget_is_clamped_to_the_context(monkeypatch):
    r = run_cli(["ask", "--think-budget", "5000", "--json", "q"], monkeypatch=monkeypatch, n_ctx=2048)
    assert "thinking budget cut from 5000 to" in r.err and "context is 2048 tokens" in r.err
    assert json.loads(r.out)["answer"] == "The answer is 19."


def test_empty_answer_gets_a_note(monkeypatch):
    r = run_cli(["ask", "q"], scripts=[["hmm", "</think>", EOG]], monkeypatch=monkeypatch)
    assert r.code == 0
    assert "no answer" in r.err


def test_help_does_not_import_llama_cpp():
    code = "import sys; from thinkcli.cli import main; main(['--help']) ; print('llama_cpp' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.strip().endswith("False")
    for sub in ("ask", "models", "pull"):
        done = subprocess.run([sys.executable, "-m", "thinkcli", sub, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "Usage" in done.stdout


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("thinkcli ")


def test_models_lists_the_store(home_with_model, capsys, monkeypatch):
    assert cli.main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "smollm2-135m"
    assert rows[0]["architecture"] == "llama" and rows[0]["quantization"] == "Q4_1"
    assert rows[0]["context_length"] == 8192 and rows[0]["reasoning_template"] is False


def test_model_that_is_not_gguf(tmp_path, capsys, monkeypatch):
    fake = tmp_path / "notes.gguf"
    fake.write_text("hello, not a model")
    monkeypatch.setattr(cli, "_environment", lambda: Environment(io.BytesIO(), io.StringIO(), sys.stderr, True, False, {}))
    assert cli.main(["ask", "-m", str(fake), "q"]) == 1
    err = capsys.readouterr().err
    assert "is not a GGUF file" in err and err.count("\n") == 1


def test_missing_model_file(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_environment", lambda: Environment(io.BytesIO(), io.StringIO(), sys.stderr, True, False, {}))
    assert cli.main(["ask", "-m", "/nowhere/model.gguf", "q"]) == 1
    assert "no such file" in capsys.readouterr().err


class _OrderedEngine(FakeEngine):
    """Records whether every batch was closed before the engine itself."""

    def close(self) -> None:
        self.batches_open_at_close = [b for b in self.batches if not b.closed]


class _BrokenStdout(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError


@pytest.mark.parametrize("args", [["ask", "q"], ["ask", "--samples", "2", "q"]])
def test_a_failing_renderer_closes_the_run_before_the_engine(monkeypatch, args):
    engine = _OrderedEngine([THOUGHT])
    environment = Environment(
        stdin=io.BytesIO(b""), stdout=_BrokenStdout(), stderr=io.StringIO(),
        stdin_isatty=True, stdout_isatty=False, vars=dict(__import__("os").environ),
    )
    monkeypatch.setattr(cli, "_environment", lambda: environment)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(thinkcli.load, "open_engine", lambda *a, **k: engine)
    monkeypatch.setattr(__import__("os"), "dup2", lambda *a: None)  # keep the test's stdout
    assert cli.main(args) == 0  # a closed pipe ends quietly
    assert engine.batches and engine.batches_open_at_close == []


def test_budget_is_sized_from_the_prompt_that_is_decoded(monkeypatch):
    # The prompted format adds an instruction and a prefill; a context that fits the bare
    # conversation but not those must clamp from the longer text.
    from thinkcli.reasoning import PROMPTED_INSTRUCTION

    question = "x" * 400
    r = run_cli(["ask", "--think-budget", "5000", "--json", question], monkeypatch=monkeypatch, n_ctx=1024)
    bare = len(f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n") // 4
    decoded = len(r.engine.prompts[0]) // 4
    assert decoded - bare >= len(PROMPTED_INSTRUCTION) // 4
    wrap_up = len("\n\nTime is up. I have to give my final answer now.\n") // 4 + 8
    assert f"cut from 5000 to {1024 - decoded - wrap_up - 256} tokens" in r.err


def test_no_stdin_leaves_piped_input_alone(monkeypatch):
    # `while read q; do thinkcli ask --no-stdin "$q"; done < questions.txt`
    r = run_cli(["ask", "--no-stdin", "first question"], stdin=b"second question\nthird\n", monkeypatch=monkeypatch)
    assert r.code == 0
    assert "first question" in r.engine.prompts[0] and "second question" not in r.engine.prompts[0]


def test_an_os_error_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.touch()
    monkeypatch.setenv("THINKCLI_HOME", str(afile / "home"))
    code = cli.main(["pull", "smollm2-135m"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("thinkcli: error: ") and "Not a directory" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("args, env, expected", [
    (["ask", "q"], {}, "auto"),
    (["ask", "--no-repack", "q"], {}, "off"),
    (["ask", "q"], {"THINKCLI_REPACK": "off"}, "off"),
    (["ask", "q"], {"THINKCLI_REPACK": "on"}, "on"),
])
def test_repack_setting_reaches_the_engine(monkeypatch, args, env, expected):
    seen = {}
    engine = FakeEngine([THOUGHT])

    def opener(settings, *a, **k):
        seen["repack"] = settings.repack
        return engine

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    run_cli(args, monkeypatch=monkeypatch)  # installs the fake opener; replace it with ours
    monkeypatch.setattr(thinkcli.load, "open_engine", opener)
    assert cli.main(args) == 0 and seen["repack"] == expected


def test_a_bad_repack_value_is_named(monkeypatch):
    r = run_cli(["ask", "q"], monkeypatch=monkeypatch, env={"THINKCLI_REPACK": "maybe"})
    assert r.code == 1 and "THINKCLI_REPACK" in r.err and "auto, on, off" in r.err


def test_the_demo_model_is_named_once_on_a_terminal(monkeypatch, tmp_path):
    from thinkcli import ask as ask_mod
    from thinkcli.env import Environment
    from rich.console import Console

    err = io.StringIO()
    console = Console(file=err, width=200)
    env = Environment(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=err, stdin_isatty=True,
                      stdout_isatty=True, vars={"THINKCLI_HOME": str(tmp_path / "home")})
    ask_mod.note_demo_model(env, "smollm2-135m", console)
    ask_mod.note_demo_model(env, "smollm2-135m", console)
    ask_mod.note_demo_model(env, "qwen3-1.7b", console)
    assert err.getvalue().count("demo") == 1 and "thinkcli pull qwen3-1.7b" in err.getvalue()


def test_a_prompt_longer_than_the_context_says_so_with_or_without_thinking(monkeypatch):
    for flags in ([], ["--no-think"], ["-e", "high"]):
        r = run_cli(["ask", *flags, "word " * 3000], monkeypatch=monkeypatch, n_ctx=2048)
        assert r.code == 1
        assert "the prompt is" in r.err and "context is 2048 tokens" in r.err and "no room" not in r.err


def test_ctx_that_is_changed_is_noted_and_more_than_the_trained_context_is_fine(monkeypatch):
    r = run_cli(["ask", "--no-think", "--ctx", "10", "q"], monkeypatch=monkeypatch, n_ctx=256)
    assert "--ctx 10 became 256 tokens" in r.err
    # More cells than the model was trained on hold more paths; no path runs past 8192 positions.
    r = run_cli(["ask", "--ctx", "80000", "-e", "max", "--json", "q"], monkeypatch=monkeypatch, n_ctx=80000,
                n_ctx_train=8192, scripts=[THOUGHT] * 8)
    assert r.code == 0 and "--ctx" not in r.err
    assert "cut from 8192 to" in r.err and "trained on" in r.err  # max's budget: the positions, not the cells
    r = run_cli(["ask", "--ctx", "4096", "q"], monkeypatch=monkeypatch, n_ctx=4096, n_ctx_train=8192)
    assert "--ctx" not in r.err and r.code == 0


def test_a_levels_minimum_yields_to_an_explicit_budget(monkeypatch):
    r = run_cli(["ask", "-e", "max", "--samples", "1", "--think-budget", "64", "--json", "q"], monkeypatch=monkeypatch)
    assert r.code == 0, r.err
    r = run_cli(["ask", "--think-budget", "64", "--min-think", "100", "q"], monkeypatch=monkeypatch)
    assert r.code == 2 and "--min-think 100 is more than the thinking budget 64" in r.err


def test_a_cut_off_answer_is_said_on_stderr(monkeypatch):
    r = run_cli(["ask", "--max-tokens", "2", "q"], monkeypatch=monkeypatch)
    assert r.code == 0 and r.out == "The answer\n"
    assert "cut off" in r.err


def test_show_thinking_on_a_pipe_shows_each_paths_trace(monkeypatch):
    paths = [["Path A says 4.", "</think>", "It is 4."], ["Path B says 5.", "</think>", "It is 5."]]
    r = run_cli(["ask", "--show-thinking", "--samples", "2", "-t", "0.7", "q"], scripts=paths, monkeypatch=monkeypatch)
    assert r.code == 0
    assert r.err.index("── path 1") < r.err.index("Path A says 4.") < r.err.index("── path 2")
    assert r.err.index("── path 2") < r.err.index("Path B says 5.") < r.err.index("▸ Explored 2 paths")


@pytest.mark.parametrize("args", [["--help"], ["ask", "--help"], ["models", "--help"]])
def test_help_survives_a_closed_pipe(args):
    proc = subprocess.Popen([sys.executable, "-m", "thinkcli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the help is written, as with `| true`
    err = proc.stderr.read()
    assert proc.wait() == 0, err
    assert err == b""


def test_bare_words_are_one_question(monkeypatch):
    r = run_cli(["ask", "What", "is", "2", "plus", "2"], monkeypatch=monkeypatch)
    assert r.code == 0, r.err
    assert "What is 2 plus 2" in r.engine.prompts[0]


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--samples", "0", "--samples must be from 1 to 64, got 0"),
    ("--samples", "65", "--samples must be from 1 to 64, got 65"),
    ("--think-budget", "-1", "--think-budget must be at least 0, got -1"),
])
def test_out_of_range_counts_are_usage_errors(monkeypatch, flag, value, message):
    r = run_cli(["ask", flag, value, "q"], monkeypatch=monkeypatch)
    assert r.code == 2 and message in r.err


def test_ask_help_is_grouped_with_defaults_and_examples_and_fits_60_columns():
    env = {**__import__("os").environ, "COLUMNS": "60"}
    done = subprocess.run([sys.executable, "-m", "thinkcli", "ask", "--help"], capture_output=True, text=True, env=env)
    assert done.returncode == 0
    text = done.stdout
    for panel in ("Model", "Thinking and effort", "Sampling", "Input", "Output"):
        assert f"─ {panel} ─" in text
    for flag in ("--think-budget", "--reasoning-format", "--show-thinking", "--hide-thinking", "--top-p", "--top-k"):
        assert flag in text, flag
    assert "thinkcli ask What is 12 + 7" in text and "2-8 adaptive" in text and "direct answers" in text
    flat = " ".join(text.replace("│", " ").split())
    assert "[default: medium]" in flat and "[default: 0.95]" in flat
    assert "<bool>" not in text.split("─ Input ─")[1] and "<list[Path]>" not in text and "[x>=0]" not in text
    assert max(len(line) for line in text.splitlines()) <= 60


def test_catalog_shows_sizes_and_what_is_pulled(isolated_home, capsys):
    (isolated_home / "models").mkdir(parents=True)
    (isolated_home / "models" / "smollm2-135m.gguf").write_bytes(b"x")
    assert cli.main(["models", "--catalog", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["smollm2-135m"]["pulled"] is True and rows["qwen3-0.6b"]["pulled"] is False
    assert rows["smollm2-135m"]["size_bytes"] == 98_362_432
    assert cli.main(["models", "--catalog"]) == 0
    table = capsys.readouterr().out
    assert "PULLED" in table and "98.4 MB" in table


def test_models_names_a_hand_placed_file_as_ask_and_rm_accept_it(isolated_home, capsys):
    (isolated_home / "models").mkdir(parents=True)
    (isolated_home / "models" / "foo.gguf").write_bytes(b"not a model")
    assert cli.main(["models", "--json"]) == 0
    assert [row["name"] for row in json.loads(capsys.readouterr().out)] == ["foo"]
    assert cli.main(["rm", "foo"]) == 0
    assert not (isolated_home / "models" / "foo.gguf").exists()


class _OpenPipe(io.BytesIO):
    """Standard input that stays open until thinkcli says it is waiting for it."""

    def __init__(self, data: bytes, err: io.StringIO):
        super().__init__(data)
        self.err = err

    def read(self, *args):
        for _ in range(200):  # up to 10 s for the note; it comes after about one
            if "reading standard input" in self.err.getvalue():
                return super().read(*args)
            __import__("time").sleep(0.05)
        return b""


def test_stdin_that_stays_open_is_announced(monkeypatch):
    err = io.StringIO()
    env = Environment(stdin=_OpenPipe(b"Hello", err), stdout=io.StringIO(), stderr=err,
                      stdin_isatty=False, stdout_isatty=False)
    assert env.read_stdin(note_after_s=0.05) == b"Hello"
    assert err.getvalue() == "thinkcli: reading standard input until it closes (--no-stdin to skip it)\n"
    quick = Environment(stdin=io.BytesIO(b"Hi"), stdout=io.StringIO(), stderr=io.StringIO(),
                        stdin_isatty=False, stdout_isatty=False)
    assert quick.read_stdin() == b"Hi" and quick.stderr.getvalue() == ""


def test_a_cut_budget_is_said_and_one_that_fits_is_not(monkeypatch):
    cut = run_cli(["ask", "-e", "high", "--json", "q"], monkeypatch=monkeypatch, scripts=[THOUGHT] * 5)
    assert cut.code == 0 and "-e high: thinking budget cut from 4096 to" in cut.err and "per path" in cut.err
    fits = run_cli(["ask", "-e", "low", "--json", "q"], monkeypatch=monkeypatch)
    assert fits.code == 0 and "cut" not in fits.err


def test_the_context_is_sized_for_the_level(monkeypatch):
    from thinkcli.config import DEFAULT_EFFORTS
    from thinkcli.planner import MAX_SIZED_CTX, capacity

    def context_for(level):
        return capacity([level]).ctx

    assert context_for(DEFAULT_EFFORTS["medium"]) == 8192
    assert 5 * (4096 + 256) < context_for(DEFAULT_EFFORTS["high"]) <= MAX_SIZED_CTX
    assert context_for(DEFAULT_EFFORTS["max"]) == MAX_SIZED_CTX
    asked: dict = {}
    engine = FakeEngine([THOUGHT])

    def opener(*args, **kw):
        asked.update(kw)
        return engine

    run_cli(["ask", "-e", "high", "q"], monkeypatch=monkeypatch)  # sets up the environment
    monkeypatch.setattr(thinkcli.load, "open_engine", opener)
    assert cli.main(["ask", "-e", "high", "q"]) == 0
    assert asked["want_ctx"] == context_for(DEFAULT_EFFORTS["high"])
