"""Prompt formats for a model whose GGUF carries no chat template, chosen by what it holds.

A model family's turn format is used only where the vocabulary has its markers as single
special tokens and something says the model was tuned on them (its end-of-sequence token
is the family's end of turn, or its name says instruct or chat); otherwise a plain
completion prompt. Turn markers a vocabulary lacks are never written: they would reach
the model as text. The families follow llama.cpp's built-in list (``llm_chat_detect_template``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from thinkcli.engine.template import CHATML

__all__ = ["COMPLETION", "FAMILIES", "MARKERS", "Fallback", "Family", "choose"]


@dataclass(frozen=True, slots=True)
class Family:
    """One prompt format.

    Attributes:
        name: a short name (``gemma``), as ``--print-prompt --json`` shows it.
        title: how a notice names it (``the Gemma turn format``).
        markers: texts that must all be single special tokens of the vocabulary.
        template: a small Jinja chat template, rendered by the sandboxed renderer.
        turn_end: the marker that ends a turn, where it differs from the end of a
            document: a model whose end-of-sequence token it is was tuned on turns.
        architectures: ``general.architecture`` values that make it the first candidate.
        answer_cue: the prompt ends with a cue the answer follows on its line (``Answer:``).
    """

    name: str
    title: str
    markers: tuple[str, ...]
    template: str
    turn_end: str | None = None
    architectures: tuple[str, ...] = ()
    answer_cue: bool = False


def _each(body: str, generation: str = "") -> str:
    """A template writing ``body`` (a Jinja expression over ``m``) for each message."""
    prompt = f"{{% if add_generation_prompt %}}{{{{ {generation!r} }}}}{{% endif %}}" if generation else ""
    return f"{{% for m in messages %}}{{{{ {body} }}}}{{% endfor %}}{prompt}"


def _system_into_first_user(user: str, other: str, generation: str) -> str:
    """A template for formats without a system turn: its text opens the next user turn
    (as llama.cpp does). ``user`` and ``other`` are Jinja expressions over ``m`` and ``system``."""
    return (
        "{% set ns = namespace(system='') %}{% for m in messages %}"
        "{% if m['role'] == 'system' %}{% set ns.system = ns.system + m['content'] | trim + '\n\n' %}"
        "{% elif m['role'] == 'user' %}{% set system = ns.system %}{% set ns.system = '' %}"
        f"{{{{ {user} }}}}"
        f"{{% else %}}{{{{ {other} }}}}{{% endif %}}{{% endfor %}}"
        + (f"{{% if add_generation_prompt %}}{{{{ {generation!r} }}}}{{% endif %}}" if generation else "")
    )


_MISTRAL_V7 = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ '[SYSTEM_PROMPT]' + m['content'] + '[/SYSTEM_PROMPT]' }}"
    "{% elif m['role'] == 'user' %}{{ '[INST]' + m['content'] + '[/INST]' }}"
    "{% else %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}"
)
_DEEPSEEK3 = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] + '\n\n' }}"
    "{% elif m['role'] == 'user' %}{{ '<｜User｜>' + m['content'] }}"
    "{% else %}{{ '<｜Assistant｜>' + m['content'] + eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}"
)
_COMMAND_R_ROLES = "{'system': '<|SYSTEM_TOKEN|>', 'user': '<|USER_TOKEN|>', 'assistant': '<|CHATBOT_TOKEN|>'}"
_EXAONE = (
    "{% for m in messages %}{{ '[|' + m['role'] + '|]' + m['content'] | trim }}"
    "{{ '\n' if m['role'] == 'user' else '[|endofturn|]\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}"
)

FAMILIES: tuple[Family, ...] = (
    Family("phi4", "the Phi-4 turn format", ("<|im_start|>", "<|im_sep|>", "<|im_end|>"),
           _each("'<|im_start|>' + m['role'] + '<|im_sep|>' + m['content'] + '<|im_end|>'",
                 "<|im_start|>assistant<|im_sep|>"), "<|im_end|>"),
    Family("chatml", "ChatML", ("<|im_start|>", "<|im_end|>"), CHATML, "<|im_end|>"),
    Family("gemma", "the Gemma turn format", ("<start_of_turn>", "<end_of_turn>"),
           _system_into_first_user(
               "'<start_of_turn>user\n' + system + m['content'] | trim + '<end_of_turn>\n'",
               "'<start_of_turn>model\n' + m['content'] | trim + '<end_of_turn>\n'",
               "<start_of_turn>model\n"),
           "<end_of_turn>", ("gemma", "gemma2", "gemma3", "gemma3n")),
    Family("llama3", "the Llama 3 header format", ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
           _each("'<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>'",
                 "<|start_header_id|>assistant<|end_header_id|>\n\n"), "<|eot_id|>", ("llama",)),
    Family("llama4", "the Llama 4 header format", ("<|header_start|>", "<|header_end|>", "<|eot|>"),
           _each("'<|header_start|>' + m['role'] + '<|header_end|>\n\n' + m['content'] | trim + '<|eot|>'",
                 "<|header_start|>assistant<|header_end|>\n\n"), "<|eot|>", ("llama4",)),
    Family("command-r", "the Command R turn format",
           ("<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|SYSTEM_TOKEN|>", "<|USER_TOKEN|>",
            "<|CHATBOT_TOKEN|>"),
           _each(f"'<|START_OF_TURN_TOKEN|>' + {_COMMAND_R_ROLES}[m['role']] + m['content'] | trim"
                 " + '<|END_OF_TURN_TOKEN|>'", "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"),
           "<|END_OF_TURN_TOKEN|>", ("command-r", "cohere2")),
    Family("mistral-v7", "the Mistral [INST] format with a system prompt",
           ("[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"), _MISTRAL_V7),
    Family("mistral", "the Mistral [INST] format", ("[INST]", "[/INST]"),
           _system_into_first_user("'[INST] ' + system + m['content'] | trim + '[/INST]'",
                                   "' ' + m['content'] | trim + eos_token", "")),
    Family("phi3", "the Phi-3 turn format", ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
           _each("'<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n'", "<|assistant|>\n"),
           "<|end|>", ("phi3",)),
    Family("granite", "the Granite role format", ("<|start_of_role|>", "<|end_of_role|>", "<|end_of_text|>"),
           _each("'<|start_of_role|>' + m['role'] + '<|end_of_role|>' + m['content'] + '<|end_of_text|>\n'",
                 "<|start_of_role|>assistant<|end_of_role|>"), None, ("granite", "granitemoe", "granitehybrid")),
    Family("deepseek3", "the DeepSeek V3 turn format", ("<｜User｜>", "<｜Assistant｜>"), _DEEPSEEK3),
    Family("exaone", "the EXAONE turn format", ("[|system|]", "[|user|]", "[|assistant|]", "[|endofturn|]"), _EXAONE,
           "[|endofturn|]", ("exaone", "exaone4")),
)

COMPLETION = Family(
    "completion", "a plain completion prompt", (),
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] | trim + '\n\n' }}"
    "{% elif m['role'] == 'user' %}{{ 'Question: ' + m['content'] | trim + '\n' }}"
    "{% else %}{{ 'Answer: ' + m['content'] | trim + '\n\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Answer:' }}{% endif %}",
    answer_cue=True,
)
"""A base model continues text: the question, then a cue for the answer on its line."""

#: Every marker some family needs: what to look up in a vocabulary.
MARKERS: frozenset[str] = frozenset(m for f in FAMILIES for m in f.markers)

# Words of a model's name or fine-tune label that say it was tuned to follow turns.
_TUNED = frozenset({"instruct", "it", "chat", "sft", "dpo", "rlhf", "orpo", "kto", "tuned", "assistant"})


@dataclass(frozen=True, slots=True)
class Fallback:
    """The format chosen for a model without a chat template, and why.

    Attributes:
        family: the format.
        why: the reason, a phrase for the notice (``detected from its vocabulary``).
    """

    family: Family
    why: str

    @property
    def label(self) -> str:
        """What ``--print-prompt --json`` says of the template (``gemma (detected)``)."""
        return f"{self.family.name} (detected)"

    def note(self, model: str) -> str:
        """The one line said once per run or chat session."""
        return f"{model} has no chat template; using {self.family.title} ({self.why})"


def choose(
    found: Collection[str], ends: Collection[str], *, architecture: str | None = None, names: Iterable[str] = ()
) -> Fallback:
    """Choose the prompt format for a model without a chat template.

    The first family whose markers are all in ``found`` (families of the model's
    architecture first) is used when the model shows it was tuned on it; a model that
    does not (a base model: measured on Gemma 3 270M, its turn format answered worse than
    a completion prompt; see benchmarks/fallback.py) and a vocabulary with no family's
    markers get ``COMPLETION``.

    Args:
        found: the family markers that are single special tokens of the vocabulary.
        ends: those of ``found`` that end generation (its end-of-sequence or end-of-turn token).
        architecture: ``general.architecture``.
        names: the model's name, fine-tune label and file name, to read "instruct" or "chat" in.
    """
    ranked = sorted(FAMILIES, key=lambda f: architecture not in f.architectures)
    family = next((f for f in ranked if all(m in found for m in f.markers)), None)
    if family is None:
        return Fallback(COMPLETION, "its vocabulary has no turn markers")
    if (family.turn_end is not None and family.turn_end in ends) or _says_tuned(names):
        return Fallback(family, "detected from its vocabulary")
    return Fallback(COMPLETION, f"it has the markers of {family.title}, but nothing says it was tuned on them")


def _says_tuned(names: Iterable[str]) -> bool:
    return any(word in _TUNED for name in names if name for word in re.split(r"[^a-z0-9]+", name.lower()))
