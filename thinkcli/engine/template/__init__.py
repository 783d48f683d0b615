"""Render a conversation with a model's own Jinja chat template, safely.

Templates come from downloaded files, so they run in Jinja's immutable sandbox with
limits on time, steps and size (``sandbox``), with what transformers adds to Jinja
(loop controls, ``{% generation %}``, its ``tojson``); a model without a template gets
ChatML (the caller warns about it). Whatever a template does wrong, the caller gets
one ``ChatTemplateError`` line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from thinkcli.engine.template.limits import LIMITS, Limits
from thinkcli.errors import ChatTemplateError, ContextOverflowError, InputError, TemplateLimitError

#: The longest template source thinkcli compiles (published ones are under 20 KB).
MAX_SOURCE = 2**17

#: What ``--chat-template-file`` is tried on: a short conversation every template takes.
SAMPLE = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "And 3+3?"},
]

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class _Raised(Exception):
    """The template's own ``raise_exception(...)``: its message is the error."""


def _raise(message: str) -> None:
    raise _Raised(str(message))


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(
    value: object, ensure_ascii: bool = False, indent: int | str | None = None, separators=None,
    sort_keys: bool = False,
) -> str:
    """transformers' ``tojson``: unlike Jinja's own, no HTML escaping, and its options work.

    With an indent or separators, which can make far more text than the value holds,
    the text is made piece by piece and stops at the size limit.
    """
    from thinkcli.engine.template.sandbox import active, bounded_concat

    if indent is not None:  # json makes the whole indent string before the first line
        active().fits(len(indent) if isinstance(indent, str) else indent)
    encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    if indent is None and separators is None:
        return encoder.encode(value)
    return bounded_concat(encoder.iterencode(value))


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import nodes
    from jinja2.ext import Extension

    from thinkcli.engine.template.sandbox import BoundedSandbox

    class GenerationBlock(Extension):
        """``{% generation %}…{% endgeneration %}`` marks the assistant's tokens for
        training masks; rendering keeps its body, as transformers does."""

        tags = {"generation"}

        def parse(self, parser) -> list[nodes.Node]:
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    env = BoundedSandbox(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols", GenerationBlock])
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = _strftime_now
    env.add_filter("tojson", _tojson)
    return env


@lru_cache(maxsize=4)
def _parse(source: str):
    """The template's syntax tree, parsed once for both compiling and reading its variables."""
    if len(source) > MAX_SOURCE:
        raise ChatTemplateError(f"is {len(source):,} characters long (the limit is {MAX_SOURCE:,})")
    with _one_line_errors():
        return _environment().parse(source)


@lru_cache(maxsize=4)
def _compile(source: str):
    tree = _parse(source)
    with _one_line_errors():
        return _environment().from_string(tree)


@lru_cache(maxsize=4)
def template_variables(template: str | None) -> frozenset[str]:
    """The variables ``template`` reads from its caller (``enable_thinking``, ``thinking``...).

    Args:
        template: the Jinja source; None means ChatML.

    Raises:
        ChatTemplateError: the template does not parse.
    """
    from jinja2 import meta

    tree = _parse(template or CHATML)
    with _one_line_errors():
        return frozenset(meta.find_undeclared_variables(tree))


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
    limits: Limits = LIMITS,
    **kwargs: object,
) -> str:
    """Render ``messages`` into the text the model continues.

    Args:
        template: the Jinja source from ``tokenizer.chat_template``; None means ChatML.
        messages: ``{"role": ..., "content": ...}`` dicts.
        bos_token: the model's beginning-of-sequence text, for templates that print it.
        eos_token: the model's end-of-sequence text.
        add_generation_prompt: end with the opening of the assistant's turn.
        limits: what the render may use (the defaults are far above what published
            templates need).
        **kwargs: extra template variables, e.g. ``enable_thinking=False`` for Qwen3.

    Raises:
        ChatTemplateError: the template is broken or raised an error itself.
        TemplateLimitError: the template ran too long or made too much.
        ContextOverflowError: the messages alone are longer than any prompt may be.
    """
    from thinkcli.engine.template.sandbox import bounded, conversation_size

    if conversation_size(messages) > limits.size:  # the input's size, not the template's doing
        raise ContextOverflowError(f"the conversation is {conversation_size(messages):,} characters; "
                                   f"no prompt may be over {limits.size:,}")
    compiled = _compile(template or CHATML)
    variables = dict(kwargs, messages=messages, bos_token=bos_token, eos_token=eos_token,
                     add_generation_prompt=add_generation_prompt)
    with _one_line_errors(), bounded(limits, messages):
        # Template.render would rewrite the traceback first, compiling code for every
        # template frame: slow and memory-hungry just when a template recursed or ran out
        return compiled.environment.concat(compiled.root_render_func(compiled.new_context(variables)))


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Whatever a template raises becomes one ``ChatTemplateError`` line."""
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SecurityError

    from thinkcli.engine.template.sandbox import OverLimit

    try:
        yield
    except OverLimit as exc:
        raise TemplateLimitError(_one_line(str(exc))) from None
    except ChatTemplateError:
        raise
    except _Raised as exc:
        raise ChatTemplateError(_one_line(str(exc))) from exc
    except TemplateSyntaxError as exc:
        raise ChatTemplateError(_one_line(f"line {exc.lineno}: {exc.message}")) from exc
    except SecurityError as exc:
        raise ChatTemplateError(_one_line(f"refused by the sandbox: {exc}")) from exc
    except RecursionError:
        raise ChatTemplateError("calls itself too deeply (RecursionError)") from None
    except MemoryError:
        raise TemplateLimitError("ran out of memory (MemoryError)") from None
    except Exception as exc:  # the template is code from the model file: any error is its own
        raise ChatTemplateError(_one_line(f"{type(exc).__name__}: {exc}")) from exc


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, without terminal control characters, and not too long:
    it comes from the template and is printed on the user's terminal."""
    text = " ".join(_UNPRINTABLE.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def template_origin(info) -> str:
    """Whose template ``info`` (a ``ModelInfo``) renders with, for error messages."""
    if info.chat_template_file:
        return f"file {info.chat_template_file}"
    file = Path(info.path).name if info.backend == "llama" else ""
    return f"of {info.name}" + (f" ({file})" if file and Path(file).stem != info.name else "")


@contextmanager
def named_errors(info) -> Iterator[None]:
    """Template errors raised inside say whose template it was (``info`` is a ``ModelInfo``)."""
    try:
        yield
    except ChatTemplateError as exc:
        raise exc.named(_one_line(template_origin(info))) from exc


def read_template_file(path: str | Path) -> str:
    """A Jinja chat template from a file (``--chat-template-file``), checked by
    rendering ``SAMPLE`` once, so a broken file fails before a model loads.

    Raises:
        InputError: the file is missing or unreadable, not UTF-8, not a template, or
            fails (or goes over a limit) on the sample conversation.
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
        render(text, SAMPLE)
    except ChatTemplateError as exc:
        raise InputError(_one_line(f"chat template file {path}: {exc.detail}")) from None
    return text
