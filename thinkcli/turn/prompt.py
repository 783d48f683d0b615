"""Build the text the model continues: its template, plus thinking opened or closed.

Native reasoning models are switched through their own template (the variables it
reads, or its ``/no_think`` flag); a plain instruct model is asked to think and gets
the opening tag prefilled.
"""

from __future__ import annotations

import re
from functools import lru_cache

from thinkcli.engine import Engine
from thinkcli.engine.template import named_errors, render, template_variables
from thinkcli.errors import ChatTemplateError, TemplateLimitError
from thinkcli.reasoning import (
    PROMPTED_INSTRUCTION,
    PROMPTED_PREFILL,
    ReasoningFormat,
    starts_in_thinking,
    thinking_closed_in_prompt,
)
from thinkcli.reasoning.formats import SWITCH_VARIABLES, no_think_flag, template_switches

_PROBE = "\u27e6probe\u27e7"  # text no template writes itself
_SYSTEM_PROBE = "\u27e6system\u27e7"
_OPENED = re.compile(r"<([A-Za-z][\w:.-]*)>")
_ASKS_TO_THINK = re.compile(r"\b(think|thinking|thought|thoughts|reason step|inner monologue)\b", re.IGNORECASE)


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
def default_system_prompt(template: str | None) -> str | None:
    """The system prompt ``template`` writes itself when given none (Qwen2.5,
    Mistral-Small, Magistral), or None: found by rendering with and without one."""
    user = [{"role": "user", "content": _PROBE}]
    try:
        with_sys = render(template, [{"role": "system", "content": _SYSTEM_PROBE}, *user])
        alone = render(template, user)
    except TemplateLimitError:
        raise  # the real render would go over it too: say so now, not after it
    except ChatTemplateError:
        return None
    if _SYSTEM_PROBE not in with_sys or _PROBE not in alone or _PROBE not in with_sys:
        return None
    head, _, rest = with_sys.partition(_SYSTEM_PROBE)
    between = rest[: rest.find(_PROBE)]
    before = alone[: alone.index(_PROBE)]
    if len(before) <= len(head) + len(between) or not (before.startswith(head) and before.endswith(between)):
        return None
    return before[len(head) : len(before) - len(between)]


@lru_cache(maxsize=8)
def system_role(template: str | None) -> str:
    """How ``template`` treats a system message: ``"none"`` (it refuses one, Gemma-2),
    ``"default"`` (it writes its own system prompt when given none) or ``"plain"``."""
    try:
        render(template, [{"role": "system", "content": ""}, {"role": "user", "content": _PROBE}])
    except TemplateLimitError:
        raise
    except ChatTemplateError:
        return "none"
    return "plain" if default_system_prompt(template) is None else "default"


def without_thinking(system: str, fmt: ReasoningFormat) -> str:
    """``system`` without the paragraphs that ask for thinking (its tags, or the words)."""
    keep = [
        p for p in system.split("\n\n")
        if fmt.start_tag not in p and fmt.end_tag not in p and not _ASKS_TO_THINK.search(p)
    ]
    return "\n\n".join(keep).strip()


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

    Raises:
        ChatTemplateError: the template failed or went over a limit (naming the model
            or the template file).
    """
    with named_errors(engine.info):
        return _build(engine, fmt, messages, thinking=thinking, effort=effort, budget=budget)


def _build(
    engine: Engine, fmt: ReasoningFormat, messages: list[dict], *, thinking: bool, effort: str | None,
    budget: int | None,
) -> tuple[str, bool]:
    if not fmt.native:
        return _prompted(engine, fmt, messages, thinking=thinking)
    template = engine.info.chat_template
    variables = template_variables(template)
    unasked = False
    if not thinking:
        messages, unasked = _asked_not_to_think(template, variables, fmt, messages)
    prompt = engine.render(messages, **template_switches(variables, thinking=thinking, effort=effort, budget=budget))
    if thinking:
        return prompt, starts_in_thinking(fmt, prompt)
    if thinking_closed_in_prompt(fmt, prompt) or unasked:
        return prompt, False
    if starts_in_thinking(fmt, prompt):  # the template always opens it (DeepSeek-R1 distills, Apriel)
        return prompt + "\n" + _inner_closes(fmt, prompt) + fmt.close + "\n\n", False
    return prompt + fmt.empty, False


def _asked_not_to_think(
    template: str | None, variables: frozenset[str], fmt: ReasoningFormat, messages: list[dict]
) -> tuple[list[dict], bool]:
    """Messages that switch thinking off where the template's switch is in the messages:
    its ``/no_think`` flag, or (Magistral) its default system prompt without the request
    to think. Also whether the latter was done, so no empty thought is added after it."""
    flag = no_think_flag(template, variables)
    if flag:
        return with_system(messages, flag), False
    if variables & SWITCH_VARIABLES or (messages and messages[0]["role"] == "system"):
        return messages, False
    default = default_system_prompt(template)
    if not default or fmt.start_tag not in default:
        return messages, False
    return [{"role": "system", "content": without_thinking(default, fmt)}, *messages], True


def _inner_closes(fmt: ReasoningFormat, prompt: str) -> str:
    """Closing tags for tags the prompt opened after the start tag (Seed-OSS's
    ``<seed:cot_budget_reflect>``), innermost first."""
    after = prompt[prompt.rfind(fmt.start_tag) + len(fmt.start_tag) :]
    return "".join(f"</{name}>" for name in reversed(_OPENED.findall(after)))


def _prompted(engine: Engine, fmt: ReasoningFormat, messages: list[dict], *, thinking: bool) -> tuple[str, bool]:
    """A plain model: asked to think in ``<think>`` tags, with the tag prefilled; or, in
    two stages, a chain-of-thought opener prefilled and the answer trigger injected later."""
    if not thinking:
        return engine.render(messages), False
    if fmt.opener:
        return engine.render(messages) + fmt.opener, True
    messages = with_instruction(engine.info.chat_template, messages, PROMPTED_INSTRUCTION)
    return engine.render(messages) + PROMPTED_PREFILL, True
