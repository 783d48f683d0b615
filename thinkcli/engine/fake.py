"""A scripted engine for tests: each sequence yields the pieces it was given.

Like llm's ``MockModel``: tests script the output, then check what the code
under test asked for (rendered prompts, injected text, rewinds, stops).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence, Union

from thinkcli.engine import ModelInfo, Sampling, Token
from thinkcli.engine.prompt import Prompt, render_marked
from thinkcli.engine.template import render

EOG = object()  # put in a script to end generation there (the end of a script does too)
# A piece is its text, (text, logprob) or (text, logprob, token confidence).
Piece = Union[str, tuple[str, float], tuple[str, float, float], object]
DEFAULT_LOGPROB = -0.1
DEFAULT_CONFIDENCE = 2.0


def _unpack(piece: Piece) -> tuple[str, float, float]:
    if isinstance(piece, tuple):
        return (*piece, DEFAULT_CONFIDENCE) if len(piece) == 2 else piece
    return piece, DEFAULT_LOGPROB, DEFAULT_CONFIDENCE


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class FakeBatch:
    """Replays one script per sequence and records what the caller did."""

    scripts: list[list[Piece]]
    n_ctx: int
    prompt_tokens: int
    prompt_eval_tokens: int
    cached_tokens: int = 0
    injected: list[tuple[int, str]] = field(default_factory=list)
    rewound: list[tuple[int, int]] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    freed: list[int] = field(default_factory=list)
    used: int = 0
    closed: bool = False
    no_end: set[int] = field(default_factory=set)
    engine: "FakeEngine | None" = None  # where admitted sequences take their scripts from

    def __post_init__(self) -> None:
        self._pos = [0] * len(self.scripts)
        self._live = list(range(len(self.scripts)))
        self._held: set[int] = set()

    @property
    def live(self) -> list[int]:
        return list(self._live)

    def step(self) -> list[Token]:
        out = []
        for s in list(self._live):
            if s in self._held:
                self.stop(s)
                continue
            script = self.scripts[s]
            piece = script[self._pos[s]] if self._pos[s] < len(script) else EOG
            self._pos[s] += 1
            if piece is EOG and s in self.no_end and self._pos[s] < len(script):
                piece = script[self._pos[s]]  # like masking the end token: take what follows
                self._pos[s] += 1
            self.no_end.discard(s)
            if piece is EOG:
                self._held.add(s)
                out.append(Token(s, "", DEFAULT_LOGPROB, eog=True, confidence=DEFAULT_CONFIDENCE))
                continue
            text, logprob, confidence = _unpack(piece)
            self.used += 1
            out.append(Token(s, text, logprob, confidence=confidence))
        return out

    def inject(self, seq: int, text: str) -> int:
        self.injected.append((seq, text))
        self._held.discard(seq)
        self.used += _tokens(text)
        return _tokens(text)

    def forbid_end(self, seq: int) -> None:
        self.no_end.add(seq)

    def rewind(self, seq: int, n_tokens: int) -> None:
        self.rewound.append((seq, n_tokens))
        self.used -= n_tokens

    def choice_logprobs(self, seq: int, choices: Sequence[Sequence[str]]) -> list[float]:
        """The script's next piece is what the model would say: a choice whose spellings
        start it gets the piece's log-probability, every other choice -8."""
        script = self.scripts[seq]
        piece = script[self._pos[seq]] if self._pos[seq] < len(script) else EOG
        text, logprob, _ = ("", 0.0, 0.0) if piece is EOG else _unpack(piece)
        said = text.strip().lower()
        return [
            logprob if said and any(said.startswith(s.strip().lower()) for s in spellings) else -8.0
            for spellings in choices
        ]

    def stop(self, seq: int) -> None:
        if seq in self._live:
            self._live.remove(seq)
            self.stopped.append(seq)

    def admit(self, seqs: Sequence[int], prompt: str, *, sampling: Sampling, seeds: Sequence[int]) -> tuple[int, int]:
        assert self.engine is not None, "admit needs the engine that opened the batch"
        self.engine.prompts.append(prompt)
        self.engine.seeds.append(list(seeds))
        for seq in seqs:
            script = self.engine.next_script()
            while len(self.scripts) <= seq:
                self.scripts.append([])
                self._pos.append(0)
            self.scripts[seq], self._pos[seq] = script, 0
            self._held.discard(seq)
            self.no_end.discard(seq)
            if seq not in self._live:
                self._live.append(seq)
        self.used += _tokens(prompt)
        return _tokens(prompt), _tokens(prompt)

    def usage(self, seqs: Sequence[int]) -> tuple[int, int] | None:
        return None

    def free(self, seq: int) -> None:
        self.stop(seq)
        self.freed.append(seq)

    def room(self, seq: int | None = None) -> int:
        return self.n_ctx - self.prompt_tokens - self.used

    def close(self) -> None:
        self.closed = True


class FakeEngine:
    """An engine whose sequences replay scripts.

    Args:
        scripts: one list of pieces per sequence; each ``start`` takes the next
            ``n`` scripts (cycling through the given ones).
        chat_template: the Jinja template to render prompts with (None: ChatML).
        n_ctx: the context size to report.
        n_ctx_train: the trained context to report (default: ``n_ctx``).
    """

    def __init__(
        self,
        scripts: Sequence[Sequence[Piece]],
        *,
        chat_template: str | None = None,
        n_ctx: int = 8192,
        n_ctx_train: int | None = None,
        name: str = "fake",
    ) -> None:
        self.scripts = [list(s) for s in scripts]
        self.info = ModelInfo(
            name=name, path=f"/models/{name}.gguf", n_ctx=n_ctx, n_ctx_train=n_ctx_train or n_ctx,
            chat_template=chat_template, load_s=0.01,
        )
        self.n_seq_max = 64
        self.prompts: list[str] = []
        self.batches: list[FakeBatch] = []
        self.seeds: list[list[int]] = []
        self._next = 0

    def render(self, messages: list[dict], **template_kwargs: object) -> Prompt:
        return render_marked(lambda marked: render(self.info.chat_template, marked, **template_kwargs), messages)

    def resize(self, n_seq_max: int, *, n_ctx: int | None = None) -> None:
        self.n_seq_max = n_seq_max
        if n_ctx:
            self.info = replace(self.info, n_ctx=n_ctx)

    def count_tokens(self, text: str) -> int:
        return _tokens(text)

    def start(self, prompt: str, *, n: int, sampling: Sampling, seeds: Sequence[int]) -> FakeBatch:
        self.prompts.append(prompt)
        self.seeds.append(list(seeds))
        scripts = [self.next_script() for _ in range(n)]
        tokens = _tokens(prompt)
        batch = FakeBatch(scripts, self.info.n_ctx, tokens, tokens if not self.batches else 1, engine=self)
        self.batches.append(batch)
        return batch

    def next_script(self) -> list[Piece]:
        """The next script, cycling through the given ones."""
        script = list(self.scripts[self._next % len(self.scripts)])
        self._next += 1
        return script

    def close(self) -> None:
        pass
