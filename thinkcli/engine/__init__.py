"""The engine seam: what the rest of thinkcli may ask of a language model.

``llama.py`` implements it on llama.cpp (the only module that imports
``llama_cpp``), ``remote/`` on an OpenAI-compatible server (the only code that
imports ``httpx``), and ``fake.py`` from a script for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence

if TYPE_CHECKING:
    from thinkcli.engine.families import Fallback


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
    """What thinkcli knows about a loaded model.

    ``fallback`` is set when the model has no chat template of its own and
    ``chat_template`` is one chosen from its vocabulary (see ``engine.families``).
    """

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
    # The context model. Shared: all sequences share n_ctx cells, and one may not run past
    # n_ctx_train positions (llama.cpp). Not shared: each request has n_ctx of its own (a server).
    shared_context: bool = True
    exact_counts: bool = True  # token counts are the model's own, not estimates
    chat_template_file: str | None = None  # where chat_template came from, if not the model (--chat-template-file)
    fallback: Fallback | None = None
    # The model's own template is unknown (a server that publishes none renders it itself):
    # chat_template is then only a stand-in, and says nothing of how the model thinks.
    template_unknown: bool = False


class Batch(Protocol):
    """Several sequences that share one evaluated prompt and decode together."""

    prompt_tokens: int
    prompt_eval_tokens: int  # evaluated, not taken from a cache (a server's count arrives as requests end)
    cached_tokens: int  # taken from a cache instead

    @property
    def live(self) -> Sequence[int]:
        """Sequences still generating."""

    def step(self) -> list[Token]:
        """Decode one token for every live sequence (after any injected text).

        Raises:
            PathError: some sequences failed (a server's request); it carries the tokens
                of the others, and the failed ones are stopped.
        """

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

    def admit(self, seqs: Sequence[int], prompt: str, *, sampling: Sampling, seeds: Sequence[int]) -> tuple[int, int]:
        """Start ``prompt`` on ``seqs`` (free or stopped) while the others decode on.

        The prompt is evaluated once for all of ``seqs`` where the engine can share it
        (a prefix shared with sequence 0's prompt is reused too).

        Returns:
            The prompt tokens that will be evaluated, and the prompt's length.
        """

    def usage(self, seqs: Sequence[int]) -> tuple[int, int] | None:
        """What a server said ``seqs`` evaluated and took from its cache, where it says."""

    def free(self, seq: int) -> None:
        """Stop ``seq`` and forget its cache: a finished run makes room for others."""

    def room(self, seq: int | None = None) -> int:
        """Tokens the sequences can still add, together, before the context is full; with
        ``seq``, no more than that sequence may add (its own limit on positions)."""

    def close(self) -> None:
        """Release the sequences (the prompt's cache may be kept for reuse)."""


class Engine(Protocol):
    """A loaded model that renders prompts and decodes batches."""

    info: ModelInfo
    n_seq_max: int  # the most sequences one batch may hold

    def resize(self, n_seq_max: int, *, n_ctx: int | None = None) -> None:
        """Hold up to ``n_seq_max`` sequences (and ``n_ctx`` cells, where the engine has cells
        of its own to size); a cache it keeps may be lost."""

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

