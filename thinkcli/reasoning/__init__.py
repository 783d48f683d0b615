"""Reasoning: split streamed output into reasoning and answer, and know each model's format.

``parser`` holds the streaming state machines; ``formats`` the tags, their detection
from a chat template, and how earlier turns are sent back to a template.
"""

from thinkcli.reasoning.formats import (
    ANSWER_LINE,
    ANSWER_TRIGGER,
    CUED_STEPWISE,
    FORMATS,
    NO_THINKING,
    PROMPTED_INSTRUCTION,
    PROMPTED_PREFILL,
    ReasoningFormat,
    detect_format,
    history_messages,
    output_format,
    reasoning_field,
    starts_in_thinking,
    thinking_closed_in_prompt,
)
from thinkcli.reasoning.parser import HarmonyParser, Parser, ReasoningParser, Segment

__all__ = [
    "ANSWER_LINE",
    "ANSWER_TRIGGER",
    "CUED_STEPWISE",
    "FORMATS",
    "NO_THINKING",
    "PROMPTED_INSTRUCTION",
    "PROMPTED_PREFILL",
    "HarmonyParser",
    "Parser",
    "ReasoningFormat",
    "ReasoningParser",
    "Segment",
    "detect_format",
    "history_messages",
    "output_format",
    "reasoning_field",
    "starts_in_thinking",
    "thinking_closed_in_prompt",
]
