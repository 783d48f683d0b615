"""Prompt text that knows which stretches are the user's, so they stay data.

A question, a piped file or a system prompt may hold the text of a control token
(``<|im_end|>``, ``</think>``); parsed as such it would end the turn or the thinking
where the user only wrote characters. ``render_marked`` renders a conversation with
every message's text swapped for a placeholder, then puts the texts back as data
segments of a ``Prompt``; an engine that tokenizes (llama.cpp) parses special tokens
only in the template's own segments. A ``Prompt`` is a ``str``, so an engine that sends
text (a server, which tokenizes it itself) and every other caller use it unchanged.
"""

from __future__ import annotations

import re
import secrets
from typing import Callable, Iterable

from thinkcli.errors import ModelError

# The message fields that hold the conversation's own text (reasoning from earlier turns included).
TEXT_FIELDS = ("content", "reasoning_content", "reasoning", "thinking")
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: in no template
# Around a placeholder: whitespace to ``trim``, but none a template writes itself, so a
# pad that survives rendering is the pad and not the template's own newline or space.
_PAD = "\x0b"


class Prompt(str):
    """Prompt text with ``segments``: ``(text, is_data)`` pairs whose texts join to it.

    Data is text from the conversation (the user's, or earlier answers), never to be
    read as control tokens; the rest is the template's own text or thinkcli's (an opened
    thinking tag, a prefill), which may hold them. Adding a ``str`` keeps the segments
    (the added text is not data); other string operations give a plain ``str``.
    """

    segments: tuple[tuple[str, bool], ...]

    def __new__(cls, segments: Iterable[tuple[str, bool]]) -> Prompt:
        merged: list[tuple[str, bool]] = []
        for text, data in segments:
            if not text:
                continue
            if merged and merged[-1][1] == data:
                merged[-1] = (merged[-1][0] + text, data)
            else:
                merged.append((text, data))
        self = super().__new__(cls, "".join(text for text, _ in merged))
        self.segments = tuple(merged)
        return self

    def __add__(self, other: str) -> Prompt:
        if not isinstance(other, str):
            return NotImplemented
        return Prompt(self.segments + _segments(other))

    def __radd__(self, other: str) -> Prompt:
        if not isinstance(other, str):
            return NotImplemented
        return Prompt(_segments(other) + self.segments)

    def __reduce__(self):
        return Prompt, (self.segments,)

    @property
    def has_data(self) -> bool:
        """Whether any of the text is data."""
        return any(data for _, data in self.segments)


def _segments(text: str) -> tuple[tuple[str, bool], ...]:
    return text.segments if isinstance(text, Prompt) else ((text, False),)


def render_marked(render: Callable[[list[dict]], str], messages: list[dict]) -> Prompt:
    """``render(messages)`` as a ``Prompt`` whose message texts are data segments.

    Each text is rendered wrapped in two markers that hold a random key (so no text can
    fake one), with a vertical tab either side: the template sees the text itself (a
    ``'/no_think' in content`` test still works), and what it prints between the markers
    is the data. Where it trimmed the text (Llama 3, Gemma: ``| trim``) the tab is gone,
    and the data is trimmed on that side as the plain render would have it.

    The result must be the plain render to the character. If it is not (the template
    broke a marker, or judged the marked text otherwise), the assistant's earlier
    answers are left unmarked and the user's and system texts tried alone; failing
    that too, the plain render comes back unmarked, as the template means it.

    Args:
        render: renders a conversation with the model's template (and its switches).
        messages: the conversation.
    """
    plain = render(messages)
    for roles in (None, ("user", "system")):
        prompt = _try_marked(render, messages, roles)
        if prompt is not None and prompt == plain:
            return prompt
    return Prompt([(plain, False)])


def _try_marked(render: Callable[[list[dict]], str], messages: list[dict],
                roles: tuple[str, ...] | None) -> Prompt | None:
    """The marked render of the texts of ``roles`` (None: all), or None if a marker broke."""
    nonce = secrets.token_hex(8)
    count = 0

    def mark(text: str) -> str:
        nonlocal count
        count += 1
        return f"{_PAD}{_OPEN}{nonce}.{count}{_OPEN}{text}{_CLOSE}{nonce}.{count}{_CLOSE}{_PAD}"

    marked = [
        {k: mark(v) if k in TEXT_FIELDS and isinstance(v, str) and v.strip() else v for k, v in m.items()}
        if roles is None or m.get("role") in roles else m
        for m in messages
    ]
    try:
        rendered = render(marked)
    except ModelError:  # the template refused a marked text
        return None
    pad, key = re.escape(_PAD), nonce + r"\.(\d+)"
    found = re.compile(f"({pad})?{_OPEN}{key}{_OPEN}(.*?){_CLOSE}{key}{_CLOSE}({pad})?", re.DOTALL)
    segments: list[tuple[str, bool]] = []
    at = 0
    for match in found.finditer(rendered):
        if match.group(2) != match.group(4):
            return None
        segments.append((rendered[at : match.start()], False))
        text = match.group(3)
        if match.group(1) is None:
            text = text.lstrip()
        if match.group(5) is None:
            text = text.rstrip()
        segments.append((text, True))
        at = match.end()
    segments.append((rendered[at:], False))
    if any(nonce in text for text, data in segments if not data):
        return None  # a marker the template cut or changed
    return Prompt(segments)
