"""Render a conversation with a model's own Jinja chat template, safely.

Templates come from downloaded files, so they run in Jinja's immutable sandbox;
a model without a template gets ChatML (the caller warns about it).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from thinkcli.errors import ModelError

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _raise(message: str) -> None:
    raise ModelError(f"chat template: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=4)
def _compile(source: str):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = _strftime_now
    env.filters["tojson"] = lambda value, indent=None, **_: json.dumps(
        value, ensure_ascii=False, indent=indent
    )
    return env.from_string(source)


def render(
    template: str | None,
    messages: list[dict],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
    **kwargs: object,
) -> str:
    """Render ``messages`` into the text the model continues.

    Args:
        template: the Jinja source from ``tokenizer.chat_template``; None means ChatML.
        messages: ``{"role": ..., "content": ...}`` dicts.
        bos_token: the model's beginning-of-sequence text, for templates that print it.
        eos_token: the model's end-of-sequence text.
        add_generation_prompt: end with the opening of the assistant's turn.
        **kwargs: extra template variables, e.g. ``enable_thinking=False`` for Qwen3.

    Raises:
        ModelError: the template is broken or raised an error itself.
    """
    from jinja2 import TemplateError

    try:
        return _compile(template or CHATML).render(
            messages=messages,
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
            **kwargs,
        )
    except TemplateError as exc:
        raise ModelError(f"the model's chat template failed: {exc}") from exc
