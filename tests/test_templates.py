"""Chat templates of reasoning models: rendering, switches, tag families, thinking off.

Every template here is a small one written for these tests, each exercising one
mechanism that published templates use.
"""

from __future__ import annotations

import pytest

from thinkcli.engine import Sampling
from thinkcli.engine.fake import EOG, FakeEngine
from thinkcli.engine.template import render, template_variables
from thinkcli.errors import ModelError
from thinkcli.events import Done
from thinkcli.reasoning import FORMATS, PROMPTED_INSTRUCTION, detect_format, starts_in_thinking, thinking_closed_in_prompt
from thinkcli.reasoning.formats import template_switches
from thinkcli.turn import events as run_events
from thinkcli.turn import Budget, Plan, Run
from thinkcli.turn.prompt import build_prompt, system_role

USER = [{"role": "user", "content": "What is 2+2?"}]

_TURNS = "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] + '<|end|>' }}{% endfor %}"

# Qwen3: enable_thinking=False closes an empty thought in the generation prompt.
ENABLE_THINKING = _TURNS + (
    "{% if add_generation_prompt %}<|assistant|>"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)
# DeepSeek-V3.1: its own `thinking` variable, defaulting to off.
THINKING_VARIABLE = (
    "{% if not thinking is defined %}{% set thinking = false %}{% endif %}" + _TURNS
    + "{% if add_generation_prompt %}<|assistant|>{% if thinking %}<think>{% else %}</think>{% endif %}{% endif %}"
)
# gpt-oss: reasoning_effort in the system turn, harmony channels.
EFFORT = (
    "<|start|>system<|message|>Reasoning: {{ reasoning_effort | default('medium') }}<|end|>"
    "{% for m in messages %}<|start|>{{ m['role'] }}<|message|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if m is defined and m.thinking %}<|channel|>analysis{% endif %}"
    "{% if add_generation_prompt %}<|start|>assistant{% endif %}"
)
# Seed-OSS: a thinking budget, where 0 opens thinking and its own budget tag.
BUDGET = (
    "{% if not thinking_budget is defined %}{% set thinking_budget = -1 %}{% endif %}"
    "{% if thinking_budget > 0 %}<|system|>Think at most {{ thinking_budget }} tokens.<|end|>{% endif %}"
    + _TURNS + "{% if add_generation_prompt %}<|assistant|>"
    "{% if thinking_budget == 0 %}<seed:think><seed:cot_budget_reflect>{% endif %}{% endif %}"
    "{# answers are split on </seed:think> #}"
)
# Nemotron-Nano-v2: a /no_think flag in the system turn is the only switch.
FLAG = (
    "{% set ns = namespace(on=true) %}{% for m in messages %}"
    "{% if m['role'] == 'system' and '/no_think' in m['content'] %}{% set ns.on = false %}{% endif %}{% endfor %}"
    "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'].replace('/no_think', '').strip() + '<|end|>' }}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>"
    "{% if ns.on %}<think>\n{% else %}<think></think>{% endif %}{% endif %}"
)
# Gemma 4: <|think|> in the system turn when on, an empty thought channel when off.
GEMMA4 = (
    "{% if enable_thinking %}<|turn>system\n<|think|><turn|>\n{% endif %}"
    "{% for m in messages %}<|turn>{{ m['role'] }}\n{{ m['content'] }}<turn|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|turn>model\n"
    "{% if not enable_thinking | default(false) %}<|channel>thought\n<channel|>{% endif %}{% endif %}"
)
# Apriel: the template opens the reasoning itself and the answer follows a marker.
APRIEL = (
    "<|system|>Reason step by step, then answer after [BEGIN FINAL RESPONSE].<|end|>" + _TURNS
    + "{% if add_generation_prompt %}<|assistant|>Here are my reasoning steps:\n{% endif %}"
)
# The first DeepSeek-R1 distills: only the closing tag, used to split earlier answers.
CLOSE_ONLY = (
    "{% for m in messages %}{% set c = m['content'] %}{% if '</think>' in c %}"
    "{% set c = c.split('</think>')[-1] %}{% endif %}{{ '<|' + m['role'] + '|>' + c }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SOLAR = _TURNS + "{% if add_generation_prompt %}<|begin|>assistant{% endif %}{# <|think|> #}"
# Gemma-2: no system role.
NO_SYSTEM = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" + _TURNS
    + "{% if add_generation_prompt %}<|model|>{% endif %}"
)
# Qwen2.5: its own default system prompt when given none.
DEFAULT_SYSTEM = (
    "{% if messages[0]['role'] != 'system' %}<|system|>You are Qwen.<|end|>{% endif %}" + _TURNS
    + "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


# -- rendering what transformers renders ------------------------------------------


def test_loop_controls_render():
    template = "{% for m in messages %}{% if m['role'] == 'tool' %}{% continue %}{% endif %}" \
        "{% if m['content'] == 'stop' %}{% break %}{% endif %}[{{ m['content'] }}]{% endfor %}"
    messages = [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"},
                {"role": "user", "content": "stop"}, {"role": "user", "content": "c"}]
    assert render(template, messages, add_generation_prompt=False) == "[a]"


def test_generation_block_renders_its_body():
    template = "{% for m in messages %}{% if m['role'] == 'assistant' %}{% generation %}" \
        "A:{{ m['content'] }}{% endgeneration %}{% else %}U:{{ m['content'] }}{% endif %}{% endfor %}"
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}]
    assert render(template, messages) == "U:qA:r"


def test_tojson_takes_transformers_options():
    template = "{{ messages[0] | tojson(ensure_ascii=True, separators=(',', ':'), sort_keys=True) }}|{{ 'é' | tojson }}"
    out = render(template, [{"role": "user", "content": "é"}])
    assert out == '{"content":"\\u00e9","role":"user"}|"é"'


def test_a_broken_template_is_a_model_error():
    with pytest.raises(ModelError, match="chat template"):
        render("{% for %}", USER)
    with pytest.raises(ModelError, match="chat template"):
        template_variables("{% if %}")


def test_template_variables_finds_the_switches_a_template_reads():
    assert {"thinking", "messages"} <= template_variables(THINKING_VARIABLE)
    assert "thinking_budget" in template_variables(BUDGET)
    assert "enable_thinking" not in template_variables(FLAG)


# -- tag families -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "name", "start", "end"),
    [
        (ENABLE_THINKING, "think", "<think>", "</think>"),
        (CLOSE_ONLY, "think", "<think>", "</think>"),
        (BUDGET, "seed", "<seed:think>", "</seed:think>"),
        (GEMMA4, "gemma4", "<|channel>thought", "<channel|>"),
        (APRIEL, "apriel", "Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]"),
        (SOLAR, "solar", "<|think|>", "<|end|><|begin|>assistant<|content|>"),
        (EFFORT, "harmony", "<|channel|>analysis<|message|>", "<|end|>"),
        ("{{ '<reasoning>' }}{{ '</reasoning>' }}<thinking></thinking>", "thinking", "<thinking>", "</thinking>"),
        ("[THINK]x[/THINK]", "magistral", "[THINK]", "[/THINK]"),
        ("[THINKING]x[/THINKING]", "thinking", "[THINKING]", "[/THINKING]"),
    ],
)
def test_tags_come_from_the_template(template, name, start, end):
    fmt = detect_format(template)
    assert (fmt.name, fmt.start_tag, fmt.end_tag, fmt.native) == (name, start, end, True)
    assert fmt.close.endswith(end) or fmt.name == "harmony"


def test_each_tag_family_parses_reasoning_then_answer():
    for template in (BUDGET, GEMMA4, SOLAR, CLOSE_ONLY):
        fmt = detect_format(template)
        parser = fmt.parser(False)
        out = parser.feed(f"{fmt.start_tag}\nplan{fmt.end_tag}\n4") + parser.finish()
        assert [kind for kind, _ in out] == ["reasoning", "answer"], fmt.name
        assert out[1][1] == "4"


def test_seed_prompt_with_its_budget_tag_counts_as_opened():
    prompt = "<|user|>q<|end|><|assistant|><seed:think><seed:cot_budget_reflect>"
    assert starts_in_thinking(FORMATS["seed"], prompt)
    assert not starts_in_thinking(FORMATS["think"], "<|user|>what does <think> mean?<|end|><|assistant|>")


# -- switches ---------------------------------------------------------------------


def prompt_for(template: str, *, thinking: bool, effort: str | None = None, budget: int | None = None, messages=USER):
    engine = FakeEngine([[]], chat_template=template)
    return build_prompt(engine, detect_format(template), messages, thinking=thinking, effort=effort, budget=budget)


def test_thinking_variable_switches_deepseek_v31_like_templates():
    assert prompt_for(THINKING_VARIABLE, thinking=True) == ("<|user|>What is 2+2?<|end|><|assistant|><think>", True)
    off, starts = prompt_for(THINKING_VARIABLE, thinking=False)
    assert off.endswith("<|assistant|></think>") and not starts


@pytest.mark.parametrize(("effort", "said"), [("none", "low"), ("low", "low"), ("medium", "medium"),
                                              ("high", "high"), ("max", "high"), ("auto", "medium")])
def test_effort_levels_map_onto_reasoning_effort(effort, said):
    prompt, starts = prompt_for(EFFORT, thinking=True, effort=effort)
    assert f"Reasoning: {said}<|end|>" in prompt and prompt.endswith("<|start|>assistant") and not starts


def test_reasoning_effort_template_with_thinking_off_goes_to_the_final_channel():
    prompt, starts = prompt_for(EFFORT, thinking=False, effort="high")
    assert "Reasoning: low" in prompt and prompt.endswith("<|start|>assistant<|channel|>final<|message|>")
    assert not starts


def test_thinking_budget_is_passed_and_zero_means_off():
    on, starts = prompt_for(BUDGET, thinking=True, budget=512)
    assert "Think at most 512 tokens." in on and on.endswith("<|assistant|>") and not starts
    off, _ = prompt_for(BUDGET, thinking=False, budget=512)
    assert off.endswith("<|assistant|><seed:think><seed:cot_budget_reflect>\n</seed:cot_budget_reflect></seed:think>\n\n")


def test_switches_only_set_what_the_template_reads():
    assert template_switches(frozenset(), thinking=False) == {"enable_thinking": False}
    both = template_switches(frozenset({"thinking", "thinking_budget"}), thinking=True, budget=None)
    assert both == {"enable_thinking": True, "thinking": True}


def test_no_think_flag_goes_in_the_system_turn_where_it_is_the_only_switch():
    off, starts = prompt_for(FLAG, thinking=False)
    assert off == "<|system|><|end|><|user|>What is 2+2?<|end|><|assistant|><think></think>" and not starts
    on, starts = prompt_for(FLAG, thinking=True)
    assert "/no_think" not in on and on.endswith("<think>\n") and starts
    with_sys = [{"role": "system", "content": "Be brief."}, *USER]
    off, _ = prompt_for(FLAG, thinking=False, messages=with_sys)
    assert off.startswith("<|system|>Be brief.<|end|>") and off.endswith("<think></think>")


def test_a_flag_is_not_added_where_a_variable_switches():
    template = ENABLE_THINKING + "{# /no_think #}"
    off, _ = prompt_for(template, thinking=False)
    assert "/no_think" not in off and off.endswith("<think>\n\n</think>\n\n")


def test_gemma4_thinks_through_its_system_turn():
    on, starts = prompt_for(GEMMA4, thinking=True)
    assert on.startswith("<|turn>system\n<|think|>") and on.endswith("<|turn>model\n") and not starts
    off, starts = prompt_for(GEMMA4, thinking=False)
    assert "<|think|>" not in off and off.endswith("<|channel>thought\n<channel|>") and not starts


def test_apriel_is_not_given_a_second_opening():
    on, starts = prompt_for(APRIEL, thinking=True)
    assert on.endswith("Here are my reasoning steps:\n") and "<think>" not in on and starts
    off, _ = prompt_for(APRIEL, thinking=False)
    assert off.endswith("Here are my reasoning steps:\n\n[BEGIN FINAL RESPONSE]\n\n")


def test_close_only_template_gets_an_empty_thought_when_off():
    off, starts = prompt_for(CLOSE_ONLY, thinking=False)
    assert off.endswith("<|assistant|><think>\n\n</think>\n\n") and not starts


# -- the prompted format and system roles -----------------------------------------


def test_system_role_is_read_from_the_template():
    assert system_role(NO_SYSTEM) == "none"
    assert system_role(DEFAULT_SYSTEM) == "default"
    assert system_role(ENABLE_THINKING) == "plain"
    assert system_role(None) == "plain"


def test_prompted_instruction_goes_in_the_user_turn_without_a_system_role():
    prompt, starts = prompt_for(NO_SYSTEM, thinking=True)
    assert prompt.startswith(f"<|user|>{PROMPTED_INSTRUCTION}\n\nWhat is 2+2?<|end|>") and starts


def test_prompted_instruction_keeps_a_default_system_prompt():
    prompt, _ = prompt_for(DEFAULT_SYSTEM, thinking=True)
    assert prompt.startswith("<|system|>You are Qwen.<|end|><|user|>" + PROMPTED_INSTRUCTION)
    with_sys = [{"role": "system", "content": "Be brief."}, *USER]
    prompt, _ = prompt_for(DEFAULT_SYSTEM, thinking=True, messages=with_sys)
    assert prompt.startswith(f"<|system|>Be brief.\n\n{PROMPTED_INSTRUCTION}<|end|><|user|>What is 2+2?")


# -- end to end: thinking off never puts reasoning in the answer ---------------------


class ObedientEngine(FakeEngine):
    """Answers as a native reasoning model would, given the prompt it gets: it thinks
    unless the prompt closed its thinking, and opens the tag unless the prompt did."""

    def start(self, prompt, *, n, sampling, seeds):
        fmt = detect_format(self.info.chat_template)
        if thinking_closed_in_prompt(fmt, prompt):
            script = ["4", EOG]
        elif starts_in_thinking(fmt, prompt):
            script = ["Two plus two.", fmt.close, "4", EOG]
        else:
            script = [fmt.start_tag, "Two plus two.", fmt.close, "4", EOG]
        self.scripts = [script]
        self._next = 0
        return super().start(prompt, n=n, sampling=sampling, seeds=seeds)


@pytest.mark.parametrize("template", [ENABLE_THINKING, THINKING_VARIABLE, EFFORT, BUDGET, FLAG, GEMMA4,
                                      APRIEL, CLOSE_ONLY])
@pytest.mark.parametrize("thinking", [True, False])
def test_thinking_off_yields_no_reasoning_in_the_answer(template, thinking):
    engine = ObedientEngine([[]], chat_template=template)
    plan = Plan("medium", "single", 1, Budget(think=100 if thinking else 0), thinking, Sampling(), 1)
    run = Run(engine, list(USER), plan, detect_format(template))
    result = [e for e in run_events(run) if isinstance(e, Done)][0].result
    assert result.answer == "4"
    assert result.reasoning == ("Two plus two." if thinking else "")


def test_verify_asks_with_thinking_closed():
    engine = ObedientEngine([[]], chat_template=ENABLE_THINKING)
    plan = Plan("medium", "single", 1, Budget(think=100), True, Sampling(), 1)
    run = Run(engine, list(USER), plan, detect_format(ENABLE_THINKING))
    list(run.sched.solo(run.verify("4")))
    assert engine.prompts[-1].endswith("<|assistant|><think>\n\n</think>\n\n")


# -- multi-turn: earlier reasoning as each template expects ---------------------------

TURNS = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "reasoning": "Two plus two is four.", "content": "4"},
    {"role": "user", "content": "And 3+3?"},
]
# Qwen3: reads reasoning_content, but writes it only after the last user turn.
STRIPS_FIELD = (
    "{% set ns = namespace(last=0) %}{% for m in messages %}{% if m['role'] == 'user' %}"
    "{% set ns.last = loop.index0 %}{% endif %}{% endfor %}"
    "{% for m in messages %}<|{{ m['role'] }}|>{% if m['role'] == 'assistant' and loop.index0 > ns.last "
    "and m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif %}{{ m['content'] }}{% endfor %}"
)
# Kimi-K2-Thinking: writes every turn's reasoning_content.
KEEPS_FIELD = (
    "{% for m in messages %}<|{{ m['role'] }}|>{% if m['role'] == 'assistant' %}"
    "<think>{{ m.reasoning_content | default('') }}</think>{% endif %}{{ m['content'] }}{% endfor %}"
)
# gpt-oss: the analysis channel from message.thinking.
KEEPS_THINKING = (
    "{% for m in messages %}{% if m['role'] == 'assistant' and m.thinking %}"
    "<|channel|>analysis<|message|>{{ m.thinking }}<|end|>{% endif %}"
    "<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
)


def test_reasoning_fields_are_read_from_the_template():
    from thinkcli.reasoning import reasoning_field

    assert reasoning_field(STRIPS_FIELD) == "reasoning_content"
    assert reasoning_field(KEEPS_THINKING) == "thinking"
    assert reasoning_field(THINKING_VARIABLE) is None  # a switch, not a message field
    assert reasoning_field(CLOSE_ONLY) is None


@pytest.mark.parametrize(
    ("template", "kept"),
    [(STRIPS_FIELD, False), (KEEPS_FIELD, True), (KEEPS_THINKING, True), (CLOSE_ONLY, False), (None, False)],
)
def test_earlier_reasoning_is_sent_as_the_template_expects(template, kept):
    from thinkcli.reasoning import history_messages

    messages = history_messages(template, TURNS)
    assert messages[1]["content"] == "4" and "reasoning" not in messages[1]
    assert TURNS[1]["reasoning"] == "Two plus two is four."  # the caller's turns are left alone
    prompt = render(template, messages)
    assert ("Two plus two is four." in prompt) is kept
    assert prompt.count("And 3+3?") == 1


def test_history_can_drop_reasoning_everywhere():
    from thinkcli.reasoning import history_messages

    assert "Two plus two" not in render(KEEPS_FIELD, history_messages(KEEPS_FIELD, TURNS, keep_reasoning=False))


# Magistral: a default system prompt that asks for thinking, replaced by any system message.
MAGISTRAL = (
    "{% set default = 'You are Ministral, made by Mistral AI.\\n\\nFirst draft your thinking process (inner "
    "monologue) until you are confident.\\n\\nWrite your thoughts as [THINK]your thoughts[/THINK] and then "
    "answer.' %}{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}"
    "{% set loop_messages = messages[1:] %}{% else %}{% set sys = default %}{% set loop_messages = messages %}"
    "{% endif %}[SYSTEM_PROMPT]{{ sys }}[/SYSTEM_PROMPT]"
    "{% for m in loop_messages %}[INST]{{ m['content'] }}[/INST]{% endfor %}"
)


def test_default_system_prompt_is_found_by_rendering():
    from thinkcli.turn.prompt import default_system_prompt

    assert default_system_prompt(DEFAULT_SYSTEM) == "You are Qwen."
    assert default_system_prompt(MAGISTRAL).startswith("You are Ministral, made by Mistral AI.\n\nFirst draft")
    assert default_system_prompt(ENABLE_THINKING) is None
    assert default_system_prompt(NO_SYSTEM) is None


def test_magistral_thinking_off_drops_the_thinking_instructions():
    on, starts = prompt_for(MAGISTRAL, thinking=True)
    assert "[THINK]your thoughts[/THINK]" in on and not starts
    off, starts = prompt_for(MAGISTRAL, thinking=False)
    assert off == "[SYSTEM_PROMPT]You are Ministral, made by Mistral AI.[/SYSTEM_PROMPT][INST]What is 2+2?[/INST]"
    assert not starts
    with_sys = [{"role": "system", "content": "Be brief."}, *USER]
    off, _ = prompt_for(MAGISTRAL, thinking=False, messages=with_sys)
    assert off.startswith("[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT]") and off.endswith("[/INST][THINK][/THINK]")


def test_a_default_system_prompt_is_kept_where_a_variable_switches_thinking():
    # SmolLM3: its default system prompt describes <think>, and enable_thinking switches it.
    template = (
        "{% if messages[0]['role'] == 'system' %}<|system|>{{ messages[0]['content'] }}<|end|>"
        "{% else %}<|system|>Think in <think> tags.<|end|>{% endif %}"
        "{% for m in messages if m['role'] != 'system' %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
        "<|assistant|>{% if enable_thinking is false %}<think>\n\n</think>\n{% endif %}"
    )
    off, starts = prompt_for(template, thinking=False)
    assert off.startswith("<|system|>Think in <think> tags.<|end|>") and off.endswith("<think>\n\n</think>\n")
    assert not starts
