"""Reasoning formats: the tags a model family thinks in, and detection from its template.

Detection reads the Jinja chat template as text; the switches that turn thinking
on and off live in ``thinkcli.turn.prompt``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thinkcli.errors import UsageError
from thinkcli.reasoning.parser import HarmonyParser, Parser, ReasoningParser

_HARMONY_FINAL = "<|channel|>final<|message|>"


@dataclass(frozen=True, slots=True)
class ReasoningFormat:
    """How one family of models marks its reasoning.

    Attributes:
        name: the family (``"think"``, ``"harmony"``, ``"magistral"``, ``"seed"``,
            ``"gemma4"``, ``"apriel"``, ``"solar"``, a tag derived from the template),
            ``"prompted"``, or ``"none"`` (thinking off: everything is answer).
        start_tag: text that opens reasoning.
        end_tag: text that closes reasoning.
        close: text to inject to force reasoning closed; feeding it to the parser
            moves the parser to the answer too.
        native: the chat template itself knows this format (``prompted`` does not:
            thinkcli asks the model to think with ``PROMPTED_INSTRUCTION``).
        empty: what closes the thinking before it starts, for a template whose
            switch (if any) left it open; appended to the generation prompt.
        opener: for a two-stage format (``stepwise``), the chain-of-thought opener
            prefilled in the reply; thinkcli owns the boundary, injecting ``close``
            (the answer trigger) when the model stops or the budget ends, and the
            answer is the line that follows.
        answer_cue: the prompt ends with a cue that the answer follows on its line
            ("Answer:" in a completion prompt), so with thinking off the answer is
            still one line (see ``output_format``).
    """

    name: str
    start_tag: str
    end_tag: str
    close: str
    native: bool
    empty: str = ""
    opener: str = ""
    answer_cue: bool = False

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


def _tagged(name: str, start: str, end: str) -> ReasoningFormat:
    return ReasoningFormat(name, start, end, end, native=True, empty=f"{start}\n\n{end}\n\n")


_SOLAR_END = "<|end|><|begin|>assistant<|content|>"

ANSWER_TRIGGER = "Therefore, the final answer is"

FORMATS: dict[str, ReasoningFormat] = {
    "think": _tagged("think", "<think>", "</think>"),
    "harmony": ReasoningFormat(
        "harmony",
        "<|channel|>analysis<|message|>",
        "<|end|>",
        "<|end|><|start|>assistant" + _HARMONY_FINAL,
        native=True,
        empty=_HARMONY_FINAL,
    ),
    "magistral": ReasoningFormat("magistral", "[THINK]", "[/THINK]", "[/THINK]", native=True, empty="[THINK][/THINK]"),
    "seed": _tagged("seed", "<seed:think>", "</seed:think>"),
    "gemma4": ReasoningFormat(
        "gemma4", "<|channel>thought", "<channel|>", "<channel|>", native=True, empty="<|channel>thought\n<channel|>"
    ),
    "apriel": ReasoningFormat(
        "apriel", "Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]", "[BEGIN FINAL RESPONSE]", native=True
    ),
    "solar": ReasoningFormat("solar", "<|think|>", _SOLAR_END, _SOLAR_END, native=True, empty=_SOLAR_END),
    "prompted": ReasoningFormat("prompted", "<think>", "</think>", "</think>", native=False),
    # Zero-shot chain of thought in two stages (Kojima et al. 2022): no tags to follow.
    "stepwise": ReasoningFormat(
        "stepwise", "", ANSWER_TRIGGER, ANSWER_TRIGGER, native=False, opener="Let's think step by step.\n"
    ),
}

NO_THINKING = ReasoningFormat("none", "", "", "", native=False)
"""Thinking off: the whole output is the answer."""

CUED_STEPWISE = ReasoningFormat(
    "stepwise", "", ANSWER_TRIGGER, ANSWER_TRIGGER, native=False, opener=" Let's think step by step.\n", answer_cue=True
)
"""``stepwise`` after a completion prompt's "Answer:" cue (a base model): the opener
goes on the cue's line, as in Kojima et al.'s "A: Let's think step by step."."""

ANSWER_LINE = ReasoningFormat("none", "", "", "", native=False, opener="\n")
"""Thinking off after an answer cue: all answer, and only its first line (a sample keeps
one line of answer wherever its format has an opener; nothing here is ever prefilled)."""


def output_format(fmt: ReasoningFormat, thinking: bool) -> ReasoningFormat:
    """How a path's output is read: as ``fmt`` while the model thinks; with thinking off,
    all answer (one line of it after an answer cue, where a base model would go on
    to write the next question itself)."""
    if thinking:
        return fmt
    return ANSWER_LINE if fmt.answer_cue else NO_THINKING


PROMPTED_INSTRUCTION = (
    "Before answering, reason step by step inside <think> and </think> tags. "
    "After the closing </think> tag, give only the final answer."
)
PROMPTED_PREFILL = "<think>\n"

# A tag whose name says thinking: </think>, </seed:think>, <thinking>...
_CLOSING_TAG = re.compile(r"</([A-Za-z][\w:.-]*)>")
_OPENING_TAG = re.compile(r"<([A-Za-z][\w:.-]*)>")
_CLOSING_BRACKET = re.compile(r"\[/([A-Z_]*THINK[A-Z_]*)\]")


def detect_format(chat_template: str | None, override: str = "auto", *, answer_cue: bool = False) -> ReasoningFormat:
    """Pick the reasoning format from the model's Jinja chat template.

    Families with their own framing are recognised by it (harmony's channels, Gemma 4's
    ``<|channel>``, Apriel's final-response marker, Solar-Open's ``<|think|>``); any
    other thinking tag is derived from the closing tag the template writes or splits on,
    so a template that holds only ``</think>`` (early DeepSeek-R1 distills) or
    ``</seed:think>`` is recognised too.

    Args:
        chat_template: the template text from the GGUF metadata, or None.
        override: ``"auto"`` to detect, or one of ``FORMATS`` to force it.
        answer_cue: the template is a completion prompt ending in an answer cue (a base
            model's): ``auto`` and ``stepwise`` mean ``CUED_STEPWISE`` there.

    Returns:
        The format; ``prompted`` for a template that knows no reasoning tags.

    Raises:
        UsageError: ``override`` names no known format.
    """
    if answer_cue and override in ("auto", "stepwise"):
        return CUED_STEPWISE
    if override != "auto":
        if override not in FORMATS:
            names = ", ".join(["auto", *FORMATS])
            raise UsageError(f"unknown reasoning format {override!r}; choose one of: {names}")
        return FORMATS[override]
    template = chat_template or ""
    if "<|channel|>" in template:
        return FORMATS["harmony"]
    if "<|channel>" in template and "<channel|>" in template:
        return FORMATS["gemma4"]
    if "[BEGIN FINAL RESPONSE]" in template:
        return FORMATS["apriel"]
    return _derived(template) or (FORMATS["solar"] if "<|think|>" in template else FORMATS["prompted"])


def _derived(template: str) -> ReasoningFormat | None:
    """The format of the first thinking tag the template closes (or else opens), if any."""
    for pattern in (_CLOSING_TAG, _OPENING_TAG):
        for match in pattern.finditer(template):
            name = match.group(1)
            if "think" in name.lower():
                end = f"</{name}>"
                family = next((f for f in FORMATS.values() if f.native and f.end_tag == end), None)
                return family or _tagged(name, f"<{name}>", end)
    match = _CLOSING_BRACKET.search(template)
    if match is None:
        return None
    if match.group(1) == "THINK":
        return FORMATS["magistral"]
    start, end = f"[{match.group(1)}]", match.group(0)
    return ReasoningFormat(match.group(1).lower(), start, end, end, native=True, empty=start + end)


# After an opened start tag, only whitespace and tags: the generation prompt's own framing.
_FRAMING = re.compile(r"(?:\s|<[^<>]*>)*")


def starts_in_thinking(fmt: ReasoningFormat, rendered_prompt: str) -> bool:
    """Whether the prompt itself opened reasoning, so output starts as reasoning.

    DeepSeek-R1 distills end the generation prompt with ``"<think>\\n"``, the
    ``prompted`` prefill does the same, a harmony prompt may end with
    ``"<|channel|>analysis<|message|>"``, and Seed-OSS with no thinking budget opens
    ``<seed:think>`` followed by its own budget tag.
    """
    if not fmt.start_tag:
        return False
    tail = rendered_prompt.rstrip()
    at = tail.rfind(fmt.start_tag)
    if at < 0 or (fmt.end_tag and fmt.end_tag in tail[at:]):
        return False
    return _FRAMING.fullmatch(tail, at + len(fmt.start_tag)) is not None


def thinking_closed_in_prompt(fmt: ReasoningFormat, rendered_prompt: str) -> bool:
    """Whether the prompt opened and already closed reasoning, so output is answer.

    Qwen3 with ``enable_thinking=False`` ends the prompt with
    ``"<think>\\n\\n</think>\\n\\n"``; a harmony prompt may end in the final channel.
    """
    tail = rendered_prompt.rstrip()
    if fmt.name == "harmony":
        return tail.endswith(_HARMONY_FINAL)
    return bool(fmt.end_tag) and tail.endswith(fmt.end_tag)


# --- switches: the template variables and flags that turn thinking on and off ---------

SWITCH_VARIABLES = frozenset({"enable_thinking", "thinking", "reasoning_effort", "thinking_budget"})
EFFORTS = {"none": "low", "low": "low", "medium": "medium", "high": "high", "max": "high"}
"""thinkcli's effort levels as ``reasoning_effort`` (gpt-oss, Solar-Open); others: medium."""
_FLAGS = ("/no_think", "/nothink")


def template_switches(
    variables: frozenset[str], *, thinking: bool, effort: str | None = None, budget: int | None = None
) -> dict[str, object]:
    """The template variables to render with, for the switches this template reads.

    ``enable_thinking`` (Qwen3, GLM, SmolLM3, Gemma 4) is always set; ``thinking``
    (DeepSeek-V3.1, Granite), ``reasoning_effort`` (gpt-oss, Solar-Open) and
    ``thinking_budget`` (Seed-OSS, where 0 means no thinking) only where read.

    Args:
        variables: the names the template reads from its caller.
        thinking: whether the model should think.
        effort: thinkcli's effort level, mapped onto low/medium/high.
        budget: the thinking budget in tokens, if known.
    """
    kwargs: dict[str, object] = {"enable_thinking": thinking}
    if "thinking" in variables:
        kwargs["thinking"] = thinking
    if "reasoning_effort" in variables:
        kwargs["reasoning_effort"] = EFFORTS.get(effort or "", "medium") if thinking else "low"
    if "thinking_budget" in variables:
        if not thinking:
            kwargs["thinking_budget"] = 0
        elif budget:
            kwargs["thinking_budget"] = budget
    return kwargs


def no_think_flag(template: str | None, variables: frozenset[str]) -> str | None:
    """The ``/no_think`` or ``/nothink`` flag, where a flag in the system turn is the
    template's only switch (Nemotron-Nano-v2); templates with a variable switch use that."""
    if not template or variables & SWITCH_VARIABLES:
        return None
    return next((flag for flag in _FLAGS if flag in template), None)


# --- earlier turns: what a template expects of the assistant's past reasoning ----------

_REASONING_FIELDS = (
    ("reasoning_content", re.compile(r"reasoning_content")),
    ("thinking", re.compile(r"\.thinking\b|\[\s*['\"]thinking['\"]\s*\]")),
    ("reasoning", re.compile(r"\.reasoning\b|\[\s*['\"]reasoning['\"]\s*\]")),
)


def reasoning_field(chat_template: str | None) -> str | None:
    """The message field a template reads earlier reasoning from, if any:
    ``reasoning_content`` (Qwen3, Kimi-K2-Thinking, Seed-OSS, Apriel), ``thinking``
    (gpt-oss) or ``reasoning``."""
    template = chat_template or ""
    return next((name for name, pattern in _REASONING_FIELDS if pattern.search(template)), None)


def history_messages(chat_template: str | None, turns: list[dict], *, keep_reasoning: bool = True) -> list[dict]:
    """A conversation whose assistant turns carry ``reasoning`` and ``content``, as the
    messages ``chat_template`` expects.

    The answer alone is always the content, so no trace reaches a template that
    would keep whatever the content holds. Where the template reads a separate field
    for reasoning, the reasoning goes there and the template decides, as its authors
    meant, whether to keep it (Kimi-K2-Thinking, gpt-oss, Seed-OSS) or drop it from
    earlier turns (Qwen3); elsewhere it is left out (the R1 distills, GLM, Nemotron).

    Args:
        chat_template: the model's template.
        turns: ``{"role", "content", "reasoning"?}`` dicts, oldest first.
        keep_reasoning: pass reasoning where the template reads it; False drops it always.

    Returns:
        New message dicts; ``turns`` is not changed.
    """
    field = reasoning_field(chat_template) if keep_reasoning else None
    out = []
    for turn in turns:
        message = {k: v for k, v in turn.items() if k != "reasoning"}
        reasoning = (turn.get("reasoning") or "").strip()
        if turn.get("role") == "assistant" and field and reasoning:
            message[field] = reasoning
        out.append(message)
    return out
