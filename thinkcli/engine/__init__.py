"""The engine seam: what the rest of thinkcli may ask of a language model.

``llama.py`` implements it on llama.cpp (the only module that imports
``llama_cpp``), ``remote/`` on an OpenAI-compatible server (the only code that
imports ``httpx``), and ``fake.py`` from a script for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True, slots=True)
class Sampling:
    """How to pick each next token.

    Args:
        temperature: 0 means greedy.
        top_p: nucleus sampling threshold (1.0 disables it).
        top_k: keep the k most likely tokens (0 disables it).
    """

    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 40


@dataclass(frozen=True, slots=True)
class Token:
    """One generated token of one sequence.

    ``text`` may be empty while an incomplete UTF-8 sequence is held back;
    ``eog`` marks an end-of-generation token (its text is never shown);
    ``confidence`` is DeepConf's token confidence at its position (minus the mean
    log-probability of the 20 likeliest tokens: higher is surer).
    """

    seq: int
    text: str
    logprob: float
    eog: bool = False
    confidence: float = 0.0


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What thinkcli knows about a loaded model."""

    name: str
    path: str
    n_ctx: int
    n_ctx_train: int
    chat_template: str | None
    bos_token: str = ""
    eos_token: str = ""
    gpu_layers: int = 0
    load_s: float = 0.0
    backend: str = "llama"  # "llama" (in process) or "openai" (a server)
    logprobs: bool = True  # token log-probabilities arrive, so votes can weigh confidence


class Batch(Protocol):
    """Several sequences that share one evaluated prompt and decode together."""

    prompt_tokens: int
    prompt_eval_tokens: int  # evaluated, not taken from a cache (a server's count arrives as requests end)
    cached_tokens: int  # taken from a cache instead

    @property
    def live(self) -> Sequence[int]:
        """Sequences still generating."""

    def step(self) -> list[Token]:
        """Decode one token for every live sequence (after any injected text)."""

    def inject(self, seq: int, text: str) -> None:
        """Force ``text`` into ``seq``; it is evaluated before the next token."""

    def forbid_end(self, seq: int) -> None:
        """The next token of ``seq`` may not end generation (an answer must start)."""

    def rewind(self, seq: int, n_tokens: int) -> None:
        """Forget the last ``n_tokens`` generated or injected tokens of ``seq``."""

    def stop(self, seq: int) -> None:
        """Take ``seq`` out of the batch."""

    def choice_logprobs(self, seq: int, choices: Sequence[Sequence[str]]) -> list[float]:
        """How likely the next token of ``seq`` starts each choice, before sampling.

        Each choice is a group of spellings (``["Yes", "yes", " Yes"]``); its value is
        the log of the total probability of the distinct first tokens of its spellings.
        """

    def admit(self, seq: int, prompt: str, *, sampling: Sampling, seed: int) -> int:
        """Start ``prompt`` on ``seq`` (free or stopped) while the others decode on.

        Returns the prompt tokens that will be evaluated (a prefix shared with
        sequence 0's prompt is reused).
        """

    def room(self) -> int:
        """Tokens the sequences can still add, together, before the context is full."""

    def close(self) -> None:
        """Release the sequences (the prompt's cache may be kept for reuse)."""


class Engine(Protocol):
    """A loaded model that renders prompts and decodes batches."""

    info: ModelInfo

    def render(self, messages: list[dict], **template_kwargs: object) -> str:
        """Render a conversation with the model's chat template, ready for the reply.

        An engine that tokenizes returns a ``thinkcli.engine.prompt.Prompt`` (a ``str``
        that marks the conversation's text as data) and honours it in ``start``,
        ``admit`` and ``count_tokens``; one that sends text may return a plain ``str``.
        """

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes."""

    def start(self, prompt: str, *, n: int, sampling: Sampling, seeds: Sequence[int]) -> Batch:
        """Evaluate ``prompt`` once and open ``n`` sequences on it."""

    def close(self) -> None:
        """Free the model and its context."""

