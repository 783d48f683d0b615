"""Split a model's streamed output into reasoning and answer, and detect its format.

Parsers are pure, copyable state machines fed one piece at a time; how the text is
cut into pieces never changes what they return (after merging same-kind segments).
"""

from __future__ import annotations

from dataclasses import dataclass

from thinkcli.errors import UsageError
from thinkcli.events import Kind

Segment = tuple[Kind, str]

_LEAD, _REASONING, _ANSWER = "lead", "reasoning", "answer"


def _emit(out: list[Segment], kind: Kind, text: str) -> None:
    """Append a segment, merging it into the previous one of the same kind."""
    if not text:
        return
    if out and out[-1][0] == kind:
        out[-1] = (kind, out[-1][1] + text)
    else:
        out.append((kind, text))


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


class _StreamParser:
    """What both parsers share: held-back text and whether reasoning has closed."""

    __slots__ = ("_held", "_closed", "_skip_ws")

    def __init__(self) -> None:
        self._held = ""  # could still become a tag: decided by the next piece
        self._closed = False
        self._skip_ws = True

    @property
    def reasoning_closed(self) -> bool:
        """The reasoning has ended (its end tag, or a new header, was seen)."""
        return self._closed

    @property
    def pending(self) -> str:
        """Text held back because it could still become a tag."""
        return self._held


class ReasoningParser(_StreamParser):
    """Tags streamed text as reasoning or answer, for ``<think>``-style tags.

    Conventions: the output's leading whitespace is dropped; a start tag counts only
    there (otherwise all of it is answer), and is dropped if the prompt already opened
    thinking. Reasoning ends at the first end tag; all after it is answer, starting at
    its first non-space character. No end tag by the end: all of it was reasoning.
    A suffix that could still become a tag is held back until it is decided.

    Args:
        start_tag: opens reasoning, e.g. ``"<think>"``; empty means it never opens.
        end_tag: closes reasoning, e.g. ``"</think>"``.
        starts_in_thinking: the prompt already opened reasoning.
    """

    __slots__ = ("start_tag", "end_tag", "_thinking_first", "_state")

    def __init__(self, start_tag: str, end_tag: str, starts_in_thinking: bool = False) -> None:
        if starts_in_thinking and not end_tag:
            raise ValueError("a parser that starts in thinking needs an end tag")
        self.start_tag = start_tag
        self.end_tag = end_tag
        self._thinking_first = starts_in_thinking
        self._state = _LEAD
        if not start_tag:
            self._state = _REASONING if starts_in_thinking else _ANSWER
        super().__init__()

    @property
    def in_reasoning(self) -> bool:
        """Text fed now would be reasoning: after the start tag (or from the start
        when the prompt opened thinking) and before the end tag."""
        return self._state == _REASONING or (self._state == _LEAD and self._thinking_first)

    def feed(self, piece: str) -> list[Segment]:
        """Take the next piece of output.

        Args:
            piece: the text of one or more tokens.

        Returns:
            ``(kind, text)`` segments now decided, never empty, same kinds merged.
        """
        out: list[Segment] = []
        text = piece
        if self._state == _LEAD:
            text = self._lead(text)
        if self._state == _REASONING and text:
            text = self._reasoning(text, out)
        if self._state == _ANSWER and text:
            _emit(out, "answer", self._strip(text))
        return out

    def finish(self) -> list[Segment]:
        """End of stream: release what was held back, as the kind it would have been.

        Returns:
            At most one segment.
        """
        out: list[Segment] = []
        _emit(out, "reasoning" if self.in_reasoning else "answer", self._held)
        self._held = ""
        return out

    def _strip(self, text: str) -> str:
        """Drop whitespace at the start of a part (stream, reasoning or answer)."""
        if self._skip_ws:
            text = text.lstrip()
            self._skip_ws = not text
        return text

    def _lead(self, text: str) -> str:
        """Decide whether the output opens with the start tag; returns unused text."""
        text = self._held + self._strip(text)
        self._held = ""
        if text.startswith(self.start_tag):
            self._state = _REASONING
            self._skip_ws = True
            return text[len(self.start_tag) :]
        if self.start_tag.startswith(text):
            self._held = text  # empty while only whitespace came
            return ""
        self._state = _REASONING if self._thinking_first else _ANSWER
        return text

    def _reasoning(self, text: str, out: list[Segment]) -> str:
        """Emit reasoning up to the end tag; returns the text after it."""
        text = self._held + self._strip(text)
        self._held = ""
        end = text.find(self.end_tag)
        if end >= 0:
            _emit(out, "reasoning", text[:end])
            self._state = _ANSWER
            self._closed = True
            self._skip_ws = True
            return text[end + len(self.end_tag) :]
        keep = len(text) - _partial_suffix(text, self.end_tag)
        _emit(out, "reasoning", text[:keep])
        self._held = text[keep:]
        return ""


_HARMONY_TOKENS = (
    "<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|constrain|>", "<|return|>", "<|call|>",
)
_HARMONY_LONGEST = max(map(len, _HARMONY_TOKENS))
_BODY, _HEADER = "body", "header"


def _harmony_token_at(text: str, at: int) -> str | None:
    for token in _HARMONY_TOKENS:
        if text.startswith(token, at):
            return token
    return None


def _could_become_token(rest: str) -> bool:
    return len(rest) < _HARMONY_LONGEST and any(t.startswith(rest) for t in _HARMONY_TOKENS)


class HarmonyParser(_StreamParser):
    """Tags streamed gpt-oss "harmony" output as reasoning or answer.

    Messages look like ``<|channel|>analysis<|message|>TEXT<|end|>``, then
    ``<|start|>assistant<|channel|>final<|message|>TEXT``. Channel ``final`` is the
    answer, any other named channel (``analysis``, ``commentary``) is reasoning, and
    text before any header is answer. Header tokens and everything between them and
    ``<|message|>`` (role, channel, recipient, ``<|constrain|>``) are never text; so
    is anything after ``<|end|>`` until the next ``<|message|>``. Each message body
    starts at its first non-space character.

    Args:
        starts_in_thinking: the prompt ended with ``<|channel|>analysis<|message|>``.
    """

    __slots__ = ("_mode", "_kind", "_channel", "_naming")

    def __init__(self, starts_in_thinking: bool = False) -> None:
        self._mode = _BODY
        self._kind: Kind = "reasoning" if starts_in_thinking else "answer"
        self._channel = ""
        self._naming = False  # header text is the channel name
        super().__init__()

    @property
    def in_reasoning(self) -> bool:
        """Inside the body of a reasoning-channel message."""
        return self._mode == _BODY and self._kind == "reasoning"

    def feed(self, piece: str) -> list[Segment]:
        """Take the next piece of output.

        Args:
            piece: the text of one or more tokens.

        Returns:
            ``(kind, text)`` segments now decided, never empty, same kinds merged.
        """
        out: list[Segment] = []
        text = self._held + piece
        self._held = ""
        done = search = 0
        while (at := text.find("<|", search)) >= 0:
            token = _harmony_token_at(text, at)
            if token is None:
                rest = text[at : at + _HARMONY_LONGEST]
                if at + len(rest) == len(text) and _could_become_token(rest):
                    self._text(text[done:at], out)
                    self._held = text[at:]
                    return out
                search = at + 1
                continue
            self._text(text[done:at], out)
            self._token(token)
            done = search = at + len(token)
        keep = len(text) - 1 if text.endswith("<") and len(text) > done else len(text)
        self._text(text[done:keep], out)
        self._held = text[keep:]
        return out

    def finish(self) -> list[Segment]:
        """End of stream: release a held-back partial token as text.

        Returns:
            At most one segment.
        """
        out: list[Segment] = []
        self._text(self._held, out)
        self._held = ""
        return out

    def _text(self, text: str, out: list[Segment]) -> None:
        if self._mode == _HEADER:
            if self._naming:
                self._channel += text
            return
        if self._skip_ws:
            text = text.lstrip()
            self._skip_ws = not text
        _emit(out, self._kind, text)

    def _token(self, token: str) -> None:
        if token == "<|constrain|>":
            self._naming = False
            return
        if token == "<|message|>":
            if self._mode == _HEADER:
                name = self._channel.split()[0] if self._channel.strip() else "final"
                self._kind = "answer" if name == "final" else "reasoning"
                self._mode = _BODY
                self._skip_ws = True
                self._naming = False
            return
        if self.in_reasoning:
            self._closed = True
        self._mode = _HEADER
        self._naming = token == "<|channel|>"
        self._channel = ""


Parser = ReasoningParser | HarmonyParser

_HARMONY_FINAL = "<|channel|>final<|message|>"
ANSWER_TRIGGER = "Therefore, the final answer is"


@dataclass(frozen=True, slots=True)
class ReasoningFormat:
    """How one family of models marks its reasoning.

    Attributes:
        name: ``"think"``, ``"harmony"``, ``"magistral"``, ``"prompted"``, or
            ``"none"`` (thinking off: everything is answer).
        start_tag: text that opens reasoning.
        end_tag: text that closes reasoning.
        close: text to inject to force reasoning closed; feeding it to the parser
            moves the parser to the answer too.
        native: the chat template itself knows this format (``prompted`` does not:
            thinkcli asks the model to think with ``PROMPTED_INSTRUCTION``).
        opener: for a two-stage format (``stepwise``), the chain-of-thought opener
            prefilled in the reply; thinkcli owns the boundary, injecting ``close``
            (the answer trigger) when the model stops or the budget ends, and the
            answer is the line that follows.
    """

    name: str
    start_tag: str
    end_tag: str
    close: str
    native: bool
    opener: str = ""

    def parser(self, starts_in_thinking: bool) -> Parser:
        """A fresh parser for one generated sequence.

        Args:
            starts_in_thinking: the rendered prompt already opened reasoning
                (see ``starts_in_thinking()``).
        """
        if self.name == "harmony":
            return HarmonyParser(starts_in_thinking=starts_in_thinking)
        if self.name == "none":
            return ReasoningParser(start_tag="", end_tag="")
        return ReasoningParser(self.start_tag, self.end_tag, starts_in_thinking)


FORMATS: dict[str, ReasoningFormat] = {
    "think": ReasoningFormat("think", "<think>", "</think>", "</think>", native=True),
    "harmony": ReasoningFormat(
        "harmony",
        "<|channel|>analysis<|message|>",
        "<|end|>",
        "<|end|><|start|>assistant" + _HARMONY_FINAL,
        native=True,
    ),
    "magistral": ReasoningFormat("magistral", "[THINK]", "[/THINK]", "[/THINK]", native=True),
    "prompted": ReasoningFormat("prompted", "<think>", "</think>", "</think>", native=False),
    # Zero-shot chain of thought in two stages (Kojima et al. 2022): no tags to follow.
    "stepwise": ReasoningFormat(
        "stepwise", "", ANSWER_TRIGGER, ANSWER_TRIGGER, native=False, opener="Let's think step by step.\n"
    ),
}

NO_THINKING = ReasoningFormat("none", "", "", "", native=False)
"""Thinking off: the whole output is the answer."""

PROMPTED_INSTRUCTION = (
    "Before answering, reason step by step inside <think> and </think> tags. "
    "After the closing </think> tag, give only the final answer."
)
PROMPTED_PREFILL = "<think>\n"


def detect_format(chat_template: str | None, override: str = "auto") -> ReasoningFormat:
    """Pick the reasoning format from the model's Jinja chat template.

    Args:
        chat_template: the template text from the GGUF metadata, or None.
        override: ``"auto"`` to detect, or one of ``FORMATS`` to force it.

    Returns:
        The format; ``prompted`` for a template that knows no reasoning tags.

    Raises:
        UsageError: ``override`` names no known format.
    """
    if override != "auto":
        if override not in FORMATS:
            names = ", ".join(["auto", *FORMATS])
            raise UsageError(f"unknown reasoning format {override!r}; choose one of: {names}")
        return FORMATS[override]
    template = chat_template or ""
    if "<|channel|>" in template:
        return FORMATS["harmony"]
    if "[THINK]" in template:
        return FORMATS["magistral"]
    if "<think>" in template:
        return FORMATS["think"]
    return FORMATS["prompted"]


def starts_in_thinking(fmt: ReasoningFormat, rendered_prompt: str) -> bool:
    """Whether the prompt itself opened reasoning, so output starts as reasoning.

    DeepSeek-R1 distills end the generation prompt with ``"<think>\\n"``, the
    ``prompted`` prefill does the same, and a harmony prompt may end with
    ``"<|channel|>analysis<|message|>"``.
    """
    return bool(fmt.start_tag) and rendered_prompt.rstrip().endswith(fmt.start_tag)


def thinking_closed_in_prompt(fmt: ReasoningFormat, rendered_prompt: str) -> bool:
    """Whether the prompt opened and already closed reasoning, so output is answer.

    Qwen3 with ``enable_thinking=False`` ends the prompt with
    ``"<think>\\n\\n</think>\\n\\n"``; a harmony prompt may end in the final channel.
    """
    tail = rendered_prompt.rstrip()
    if fmt.name == "harmony":
        return tail.endswith(_HARMONY_FINAL)
    return bool(fmt.end_tag) and tail.endswith(fmt.end_tag)
