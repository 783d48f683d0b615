"""Build the text the model continues: its template, plus thinking opened or closed.

Native reasoning models are switched through their own template; a plain
instruct model is asked to think and gets the opening tag prefilled.
"""

from __future__ import annotations

from thinkcli.engine import Engine
from thinkcli.reasoning import (
    PROMPTED_INSTRUCTION,
    PROMPTED_PREFILL,
    ReasoningFormat,
    starts_in_thinking,
    thinking_closed_in_prompt,
)

# What closes thinking before it starts, for a template that cannot switch it off itself.
_EMPTY_THOUGHT = {
    "think": "<think>\n\n</think>\n\n",
    "magistral": "[THINK][/THINK]",
    "harmony": "<|channel|>final<|message|>",
}


def with_system(messages: list[dict], extra: str) -> list[dict]:
    """``messages`` with ``extra`` appended to the system prompt (added if missing)."""
    if messages and messages[0]["role"] == "system":
        first = dict(messages[0], content=f"{messages[0]['content']}\n\n{extra}".strip())
        return [first, *messages[1:]]
    return [{"role": "system", "content": extra}, *messages]


def build_prompt(engine: Engine, fmt: ReasoningFormat, messages: list[dict], *, thinking: bool) -> tuple[str, bool]:
    """Render ``messages`` for ``engine`` with thinking on or off.

    Returns:
        The prompt text and whether the model's output starts inside its reasoning.
    """
    if not fmt.native:
        if not thinking:
            return engine.render(messages), False
        if fmt.opener:  # two stages: the reply opens the reasoning; thinkcli injects the answer trigger
            return engine.render(messages) + fmt.opener, True
        return engine.render(with_system(messages, PROMPTED_INSTRUCTION)) + PROMPTED_PREFILL, True
    prompt = engine.render(messages, enable_thinking=thinking)
    if thinking:
        return prompt, starts_in_thinking(fmt, prompt)
    if thinking_closed_in_prompt(fmt, prompt):
        return prompt, False
    if starts_in_thinking(fmt, prompt):  # the template always opens it (DeepSeek-R1 distills)
        return prompt + "\n" + fmt.close + "\n\n", False
    return prompt + _EMPTY_THOUGHT.get(fmt.name, ""), False
