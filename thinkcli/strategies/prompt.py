"""Build the text the model continues: its template, plus thinking opened or closed.

Native reasoning models are switched through their own template (the variables it
reads, or its ``/no_think`` flag); a plain instruct model is asked to think and gets
the opening tag prefilled.
"""

from __future__ import annotations

import re
from functools import lru_cache

from thinkcli.engine import Engine
from thinkcli.engine.template import render, template_variables
from thinkcli.errors import ModelError
from thinkcli.reasoning import (
    PROMPTED_INSTRUCTION,
    PROMPTED_PREFILL,
    ReasoningFormat,
    starts_in_thinking,
    thinking_closed_in_prompt,
)
from thinkcli.reasoning.formats import no_think_flag, template_switches

_PROBE = "\u27e6probe\u27e7"  # text no template writes itself
_OPENED = re.compile(r"<([A-Za-z][\w:.-]*)>")


def with_system(messages: list[dict], extra: str) -> list[dict]:
    """``messages`` with ``extra`` appended to the system prompt (added if missing)."""
    if messages and messages[0]["role"] == "system":
        first = dict(messages[0], content=f"{messages[0]['content']}\n\n{extra}".strip())
        return [first, *messages[1:]]
    return [{"role": "system", "content": extra}, *messages]


def with_first_user(messages: list[dict], extra: str) -> list[dict]:
    """``messages`` with ``extra`` put before the first user message's text."""
    out = list(messages)
    for i, message in enumerate(out):
        if message["role"] == "user":
            out[i] = dict(message, content=f"{extra}\n\n{message['content']}")
            return out
    return out


@lru_cache(maxsize=8)
def system_role(template: str | None) -> str:
    """How ``template`` treats a system message: ``"none"`` (it refuses one, Gemma-2),
    ``"default"`` (it writes its own system prompt when given none: Qwen2.5,
    Mistral-Small) or ``"plain"``."""
    user = [{"role": "user", "content": _PROBE}]
    try:
        with_sys = render(template, [{"role": "system", "content": ""}, *user])
    except ModelError:
        return "none"
    try:
        alone = render(template, user)
    except ModelError:
        return "plain"
    if _PROBE not in alone or _PROBE not in with_sys:
        return "plain"
    return "default" if alone.index(_PROBE) > with_sys.index(_PROBE) else "plain"


def with_instruction(template: str | None, messages: list[dict], extra: str) -> list[dict]:
    """``messages`` with ``extra`` where the template takes it: the system prompt, or
    the first user message when a new system message would fail or would replace the
    template's own default system prompt."""
    has_system = bool(messages) and messages[0]["role"] == "system"
    role = system_role(template)
    if role == "none" or (role == "default" and not has_system):
        return with_first_user(messages, extra)
    return with_system(messages, extra)


def build_prompt(
    engine: Engine,
    fmt: ReasoningFormat,
    messages: list[dict],
    *,
    thinking: bool,
    effort: str | None = None,
    budget: int | None = None,
) -> tuple[str, bool]:
    """Render ``messages`` for ``engine`` with thinking on or off.

    Args:
        engine: renders with the model's chat template.
        fmt: the detected format (never the no-thinking one: the template's own
            switch turns thinking off).
        messages: the conversation, ending with the user's turn.
        thinking: whether the model thinks.
        effort: the effort level's name, for templates that read ``reasoning_effort``.
        budget: the thinking budget, for templates that read ``thinking_budget``.

    Returns:
        The prompt text and whether the model's output starts inside its reasoning.
    """
    if not fmt.native:
        return _prompted(engine, messages, thinking=thinking)
    template = engine.info.chat_template
    variables = template_variables(template)
    flag = None if thinking else no_think_flag(template, variables)
    if flag:
        messages = with_system(messages, flag)
    prompt = engine.render(messages, **template_switches(variables, thinking=thinking, effort=effort, budget=budget))
    if thinking:
        return prompt, starts_in_thinking(fmt, prompt)
    if thinking_closed_in_prompt(fmt, prompt):
        return prompt, False
    if starts_in_thinking(fmt, prompt):  # the template always opens it (DeepSeek-R1 distills, Apriel)
        return prompt + "\n" + _inner_closes(fmt, prompt) + fmt.close + "\n\n", False
    return prompt + fmt.empty, False


def _inner_closes(fmt: ReasoningFormat, prompt: str) -> str:
    """Closing tags for tags the prompt opened after the start tag (Seed-OSS's
    ``<seed:cot_budget_reflect>``), innermost first."""
    after = prompt[prompt.rfind(fmt.start_tag) + len(fmt.start_tag) :]
    return "".join(f"</{name}>" for name in reversed(_OPENED.findall(after)))


def _prompted(engine: Engine, messages: list[dict], *, thinking: bool) -> tuple[str, bool]:
    """A plain model: asked to think in ``<think>`` tags, with the tag prefilled."""
    if not thinking:
        return engine.render(messages), False
    messages = with_instruction(engine.info.chat_template, messages, PROMPTED_INSTRUCTION)
    return engine.render(messages) + PROMPTED_PREFILL, True
