"""``thinkcli tune`` and the profiles it writes, as a user runs them, behind scripted models.

``Oracle`` answers by what it was asked: a thinking prompt, a direct one, or the
verifier's question, and by each path's seed, so votes can beat one path.
"""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import date

import pytest

import thinkcli.cli as cli
import thinkcli.load
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.env import Environment
from thinkcli.turn.run import VERIFY_PROMPT

PLAIN = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
REASONING = PLAIN + "<think>\n"  # an R1-like template: it opens the thinking itself
SMALL = ["--budgets", "32,64", "--paths", "5", "--think-paths", "3", "--folds", "2"]


class Oracle(FakeEngine):
    """A scripted model: ``answer(thinking, seed)`` says what each path answers."""

    def __init__(self, answer, template: str):
        super().__init__([[]], chat_template=template)
        self.answer = answer
        self.calls: dict[int, int] = {}

    def next_script(self):
        opened = len(self.prompts)
        index = self.calls.get(opened, 0)
        self.calls[opened] = index + 1
        prompt, seeds = self.prompts[-1], self.seeds[-1]
        if VERIFY_PROMPT in prompt:
            return ["Yes", EOG]
        thinking = prompt.rstrip().endswith("<think>") or prompt.endswith("step by step.\n")
        said = self.answer(thinking, seeds[index] if index < len(seeds) else 0)
        head = ["Let", " me", " count", ".", "</think>"] if thinking and prompt.rstrip().endswith("<think>") else []
        if prompt.endswith("step by step.\n"):
            head = ["Let", " me", " count", ".", "\n", EOG]  # two stages: the trigger is injected at the end
            return head + [f" {said}", "\n"]
        return head + [f"The answer is {said}.", EOG]


def thinking_helps(thinking: bool, seed: int) -> str:
    return "4" if thinking else "5"


def votes_help(thinking: bool, seed: int) -> str:
    if thinking:
        return "6"
    return "5" if seed % 3 == 1 else "4"  # path 0 (seed 7) is wrong; the majority of three is right


def problems(tmp_path, n: int = 8):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"id": i, "question": f"How many apples, case {i}?", "answer": "4"}) + "\n"
                            for i in range(n)))
    return path


def run(args, monkeypatch, engine, env=None):
    out, err = io.StringIO(), io.StringIO()
    environment = Environment(stdin=io.BytesIO(b""), stdout=out, stderr=err, stdin_isatty=True,
                              stdout_isatty=False, vars={**os.environ, **(env or {})})
    monkeypatch.setattr(cli, "_environment", lambda: environment)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(thinkcli.load, "open_engine", lambda *a, **k: engine)
    code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def profile_file(home):
    files = [p for p in (home / "profiles").glob("*.json") if p.name != "hashes.json"]
    assert len(files) == 1
    return json.loads(files[0].read_text())


def test_a_model_where_thinking_helps_gets_thinking_levels(tmp_path, monkeypatch, isolated_home):
    engine = Oracle(thinking_helps, REASONING)
    code, out, err = run(["tune", str(problems(tmp_path)), *SMALL], monkeypatch, engine)
    assert code == 0, err
    assert "about" in err and "tokens to decode" in err  # the ETA, up front
    levels = profile_file(isolated_home)["levels"]
    assert levels["none"]["think_budget"] == 0
    assert all(levels[name]["think_budget"] > 0 for name in ("low", "medium", "high", "max"))
    assert "beats none (p=0.0039; 8 won, 0 lost)" in out  # held out: every problem right, none wrong


def test_a_model_where_votes_help_gets_direct_votes_and_ask_uses_them(tmp_path, monkeypatch, isolated_home):
    engine = Oracle(votes_help, PLAIN)
    code, out, err = run(["tune", str(problems(tmp_path, 16)), *SMALL], monkeypatch, engine)
    assert code == 0, err
    profile = profile_file(isolated_home)
    levels = profile["levels"]
    assert levels["none"] == {**levels["none"], "think_budget": 0, "samples": 1}
    assert levels["high"]["think_budget"] == 0 and levels["high"]["samples"] >= 3
    assert profile["summary"][3]["level"] == "high" and profile["summary"][3]["held_out"] == 1.0
    code, out, err = run(["ask", "--json", "-e", "high", "How many apples?"], monkeypatch, Oracle(votes_help, PLAIN))
    doc = json.loads(out)
    assert code == 0 and doc["levels"] == f"tuned on 16 problems on {date.today().isoformat()}"
    assert len(doc["samples"]) == levels["high"]["samples"] and doc["answer"] == "The answer is 4."
    code, _, err = run(["--debug", "ask", "-e", "high", "q"], monkeypatch, Oracle(votes_help, PLAIN))
    assert f"effort levels: tuned on 16 problems on {date.today().isoformat()}" in err


def test_without_a_profile_the_levels_are_built_in_by_kind(monkeypatch):
    code, out, _ = run(["ask", "--json", "-e", "high", "q"], monkeypatch, Oracle(votes_help, PLAIN))
    doc = json.loads(out)
    assert doc["levels"] == "built-in for models without native thinking" and len(doc["samples"]) == 9
    assert all(s["thinking_tokens"] == 0 for s in doc["samples"])
    code, out, _ = run(["ask", "--json", "-e", "high", "q"], monkeypatch, Oracle(thinking_helps, REASONING))
    doc = json.loads(out)
    assert doc["levels"] == "built-in for reasoning models" and len(doc["samples"]) == 5
    assert all(s["thinking_tokens"] > 0 for s in doc["samples"])
    code, out, _ = run(["ask", "--json", "-e", "high", "--samples", "2", "--think-budget", "16", "q"], monkeypatch,
                       Oracle(votes_help, PLAIN))
    doc = json.loads(out)  # flags still win
    assert len(doc["samples"]) == 2 and all(s["thinking_tokens"] > 0 for s in doc["samples"])


def test_a_level_the_config_defines_stays_the_users(tmp_path, monkeypatch, isolated_home):
    config = tmp_path / "config.toml"
    config.write_text("[efforts.high]\nsamples = 2\n")
    run(["tune", str(problems(tmp_path, 16)), *SMALL], monkeypatch, Oracle(votes_help, PLAIN))
    code, out, _ = run(["ask", "--json", "-e", "high", "q"], monkeypatch, Oracle(votes_help, PLAIN),
                       env={"THINKCLI_CONFIG": str(config)})
    doc = json.loads(out)
    assert code == 0 and doc["levels"] == "config file" and len(doc["samples"]) == 2
    assert all(s["thinking_tokens"] > 0 for s in doc["samples"])  # the reasoning table's high, 2 paths


def test_ctrl_c_keeps_the_measurements_and_a_rerun_goes_on(tmp_path, monkeypatch, isolated_home):
    file = problems(tmp_path)
    engine = Oracle(votes_help, PLAIN)
    start = engine.start
    steps = {"n": 0}

    def start_then_interrupt(*a, **k):
        batch = start(*a, **k)
        step = batch.step

        def counted():
            steps["n"] += 1
            if steps["n"] == 40:
                raise KeyboardInterrupt
            return step()

        batch.step = counted
        return batch

    engine.start = start_then_interrupt
    code, _, err = run(["tune", str(file), *SMALL], monkeypatch, engine)
    assert code == 130 and "measurements are kept" in err
    kept = sum(len(p.read_text().splitlines()) for p in (isolated_home / "tune").glob("*.jsonl"))
    assert kept > 0 and not list((isolated_home / "profiles").glob("*.json"))
    again = Oracle(votes_help, PLAIN)
    code, _, err = run(["tune", str(file), *SMALL], monkeypatch, again)
    assert code == 0, err
    full = Oracle(votes_help, PLAIN)
    run(["tune", str(file), *SMALL, "--fresh", "--no-save"], monkeypatch, full)
    assert 0 < len(again.prompts) < len(full.prompts)


def test_json_output_and_the_shipped_sets(tmp_path, monkeypatch):
    code, out, err = run(["tune", "logic", "--limit", "8", *SMALL, "--json", "--no-save"], monkeypatch,
                         Oracle(votes_help, PLAIN))
    doc = json.loads(out)
    assert code == 0 and doc["problems"] == 8 and [r["level"] for r in doc["levels"]] == [
        "none", "low", "medium", "high", "max", "auto"]
    assert doc["profile"] is None and doc["frontier"] and doc["source"].endswith("logic.jsonl")
    code, _, err = run(["tune", "no-such-set"], monkeypatch, Oracle(votes_help, PLAIN))
    assert code == 2 and "nor a problem set thinkcli ships" in err


@pytest.mark.parametrize("args, message", [
    (["--budgets", "8"], "at least 16"), (["--budgets", "a,b"], "whole numbers"), (["--show", "--reset"], "choose one"),
])
def test_bad_options_are_one_line(tmp_path, monkeypatch, args, message):
    code, _, err = run(["tune", str(problems(tmp_path)), *args], monkeypatch, Oracle(votes_help, PLAIN))
    assert code == 2 and message in err and err.count("\n") == 1


def test_a_missing_file_is_one_line_and_exit_1(tmp_path, monkeypatch):
    code, _, err = run(["tune", str(tmp_path / "gone.jsonl")], monkeypatch, Oracle(votes_help, PLAIN))
    assert code == 1 and "gone.jsonl: no such file" in err and err.count("\n") == 1


def test_too_few_graded_problems_is_a_usage_error(tmp_path, monkeypatch):
    path = tmp_path / "p.jsonl"
    path.write_text('{"question": "a?", "answer": "1"}\n{"question": "b?"}\n')
    code, _, err = run(["tune", str(path)], monkeypatch, Oracle(votes_help, PLAIN))
    assert code == 2 and "1 graded problem(s); tuning needs at least 4" in err
