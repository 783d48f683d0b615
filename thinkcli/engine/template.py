"""Render a conversation with a model's own Jinja chat template, safely.

Templates come from downloaded files, so they run in Jinja's immutable sandbox,
with what transformers adds to Jinja (loop controls, ``{% generation %}``, its
``tojson``); a model without a template gets ChatML (the caller warns about it).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from thinkcli.errors import InputError, ModelError

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


def _tojson(
    value: object, ensure_ascii: bool = False, indent: int | None = None, separators=None, sort_keys: bool = False
) -> str:
    """transformers' ``tojson``: unlike Jinja's own, no HTML escaping, and its options work."""
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import nodes
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationBlock(Extension):
        """``{% generation %}…{% endgeneration %}`` marks the assistant's tokens for
        training masks; rendering keeps its body, as transformers does."""

        tags = {"generation"}

        def parse(self, parser) -> list[nodes.Node]:
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols", GenerationBlock]
    )
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = _strftime_now
    env.filters["tojson"] = _tojson
    return env


@lru_cache(maxsize=4)
def _parse(source: str):
    """The template's syntax tree, parsed once for both compiling and reading its variables."""
    return _environment().parse(source)


@lru_cache(maxsize=4)
def _compile(source: str):
    return _environment().from_string(_parse(source))


@lru_cache(maxsize=4)
def template_variables(template: str | None) -> frozenset[str]:
    """The variables ``template`` reads from its caller (``enable_thinking``, ``thinking``...).

    Args:
        template: the Jinja source; None means ChatML.

    Raises:
        ModelError: the template does not parse.
    """
    from jinja2 import TemplateError, meta

    try:
        return frozenset(meta.find_undeclared_variables(_parse(template or CHATML)))
    except TemplateError as exc:
        raise ModelError(f"the model's chat template failed: {exc}") from exc


def render_for(info, messages: list[dict], **template_kwargs: object) -> str:
    """Render with a model's template and special tokens (``info`` is its ``ModelInfo``)."""
    return render(info.chat_template, messages, bos_token=info.bos_token, eos_token=info.eos_token, **template_kwargs)


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


def read_template_file(path: str | Path) -> str:
    """A Jinja chat template from a file (``--chat-template-file``), checked to parse.

    Raises:
        InputError: the file is missing or unreadable, not UTF-8, or not a template.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"chat template file {path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"chat template file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"chat template file {path}: {exc.strerror or exc}") from None
    try:
        template_variables(text)
    except ModelError as exc:
        raise InputError(f"chat template file {path}: {str(exc).split(': ', 1)[-1]}") from None
    return text
