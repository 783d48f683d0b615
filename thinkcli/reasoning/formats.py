"""Reasoning formats: the tags a model family thinks in, and detection from its template.

Detection reads the Jinja chat template as text; the switches that turn thinking
on and off live in ``thinkcli.strategies.prompt``.
"""

from __future__ import annotations

from dataclasses import dataclass

from thinkcli.errors import UsageError
from thinkcli.reasoning.parser import HarmonyParser, Parser, ReasoningParser

_HARMONY_FINAL = "<|channel|>final<|message|>"


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
    """

    name: str
    start_tag: str
    end_tag: str
    close: str
    native: bool

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
