"""The one capacity planner: the same level spends the same budget in every command, locally and
on a server, wherever the context allows; a cut is said once."""

from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import replace

import pytest

import thinkcli.cli as cli
import thinkcli.load
from thinkcli import planner
from thinkcli.config import DEFAULT_EFFORTS, Settings
from thinkcli.engine import ModelInfo
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.env import Environment
from thinkcli.errors import ContextOverflowError

THOUGHT = ["Let", " me", " see", "</think>", "The", " answer", " is", " 4.", EOG]
HIGH = DEFAULT_EFFORTS["high"]


def info(**kw) -> ModelInfo:
    fields = dict(name="m", path="/m.gguf", n_ctx=32768, n_ctx_train=40960, chat_template=None)
    return ModelInfo(**{**fields, **kw})


def plan(model: ModelInfo, level=HIGH, *, prompt: int = 60, questions: int = 1, notes: list | None = None):
    return planner.make_plan(Settings(seed=1), level, model, prompt_tokens=prompt, wrap_up=20,
                             temperature_given=False, notice=lambda what, text: (notes if notes is not None else []).append(text),
                             questions=questions)


def test_a_server_context_is_per_request_not_divided_among_paths():
    # Before, 5 paths on an 8,192-token server each got a fifth: about 1,351 tokens of thinking.
    server = info(n_ctx=8192, n_ctx_train=8192, shared_context=False)
    assert plan(server).budget.think == 4096
    assert plan(server, questions=4).budget.think == 4096  # each request has its own context


def test_estimated_counts_keep_a_margin():
    exact = info(n_ctx=4096, n_ctx_train=4096, shared_context=False)
    estimated = replace(exact, exact_counts=False)
    assert plan(estimated).budget.think < plan(exact).budget.think
    assert plan(estimated).budget.think + 20 + 256 <= 0.9 * (4096 - 60)


def test_a_local_context_is_sized_so_the_budget_holds():
    need = planner.capacity([HIGH])
    assert need.ctx >= 5 * (4096 + 256) and need.seqs == 5
    assert plan(info(n_ctx=need.ctx)).budget.think == 4096


def test_cells_past_the_trained_length_hold_more_paths_but_no_path_runs_past_it():
    small = info(n_ctx=32768, n_ctx_train=8192)  # smollm2: trained on 8,192
    assert plan(small).budget.think == 4096  # five paths side by side, each within 8,192 positions
    notes: list[str] = []
    cut = plan(small, DEFAULT_EFFORTS["max"], notes=notes)
    assert cut.budget.think < 8192 and cut.budget.think + 20 + cut.budget.max_answer <= 8192 - 60
    assert any("trained on" in n or "holds" in n for n in notes)


def test_questions_side_by_side_share_the_cells():
    local = info(n_ctx=8192, n_ctx_train=8192)
    one, four = plan(local, DEFAULT_EFFORTS["low"]), plan(local, DEFAULT_EFFORTS["low"], questions=4)
    assert one.budget.think == four.budget.think == 256  # 4 x (256 + answers) fit in 8,192
    assert four.budget.max_answer <= 8192 // 4 - 60 - 256


def test_a_prompt_that_does_not_fit_is_an_error_naming_the_limit():
    with pytest.raises(ContextOverflowError, match="the prompt is 9000 tokens"):
        plan(info(n_ctx=8192, n_ctx_train=8192), prompt=9000)


def test_questions_at_once_keeps_full_budgets_by_default():
    big = info(n_ctx=8192, n_ctx_train=8192)
    low = DEFAULT_EFFORTS["low"]
    assert planner.questions_at_once(low, big, seqs=16, asked=None, parallel=4) == 4
    assert planner.questions_at_once(HIGH, big, seqs=16, asked=None, parallel=4) == 1
    assert planner.questions_at_once(HIGH, big, seqs=16, asked=3, parallel=4) == 3
    server = replace(big, shared_context=False)
    assert planner.questions_at_once(HIGH, server, seqs=256, asked=None, parallel=10) == 2  # 10 requests


# -- through the commands: ask, chat and batch plan the same ------------------------------


def run(args: list[str], monkeypatch, tmp_path, stdin: bytes = b"") -> tuple[int, str, str]:
    """A command on a scripted engine that takes the context the planner asks for."""
    def opener(settings, env, err, *, n_seq_max, debug, want_ctx=8192):
        engine = FakeEngine([THOUGHT], n_ctx=settings.ctx or want_ctx, n_ctx_train=40960)
        engine.n_seq_max = n_seq_max
        return engine

    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.BytesIO(stdin), stdout=out, stderr=err, stdin_isatty=not stdin,
                      stdout_isatty=False, vars=dict(os.environ))
    monkeypatch.setattr(cli, "_environment", lambda: env)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(thinkcli.load, "open_engine", opener)
    return cli.main(args), out.getvalue(), err.getvalue()


def recorded_plans(monkeypatch, tmp_path) -> dict[str, dict]:
    code, out, _ = run(["log", "--json", "-n", "10"], monkeypatch, tmp_path)
    assert code == 0
    return {r["command"]: r["plan"]["budget"] for r in json.loads(out)}


@pytest.mark.parametrize("level", ["high", "max"])
def test_the_same_level_spends_the_same_budget_in_ask_chat_and_batch(monkeypatch, tmp_path, level):
    # Before, chat and batch loaded an 8,192-token context whatever the level: on a model
    # trained for 40,960 tokens, -e high thought for 1,351 tokens there and 4,096 in ask.
    problems = tmp_path / "p.jsonl"
    problems.write_text(json.dumps({"id": 1, "question": "What is 2+2?"}) + "\n")
    assert run(["ask", "-e", level, "What is 2+2?"], monkeypatch, tmp_path)[0] == 0
    assert run(["chat", "-e", level], monkeypatch, tmp_path, stdin=b"What is 2+2?\n")[0] == 0
    assert run(["batch", str(problems), "-e", level], monkeypatch, tmp_path)[0] == 0
    budgets = recorded_plans(monkeypatch, tmp_path)
    assert set(budgets) == {"ask", "chat", "batch"}
    thinks = {command: b["think"] for command, b in budgets.items()}
    assert len(set(thinks.values())) == 1, thinks
    assert thinks["ask"] == DEFAULT_EFFORTS[level].think_budget or level == "max"


def test_a_cut_budget_is_said_once_in_a_chat(monkeypatch, tmp_path):
    code, _, err = run(["chat", "-e", "high", "--ctx", "8192"], monkeypatch, tmp_path,
                       stdin=b"What is 2+2?\nAnd 3+3?\nAnd 4+4?\n")
    assert code == 0 and err.count("thinking budget cut from 4096") == 1
