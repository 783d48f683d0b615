"""Several sequences decoding together over one evaluated prompt.

Each ``step()`` feeds every live sequence's pending tokens (its last sampled
token plus anything injected) to one ``llama_decode`` and samples each sequence
from its own logits with its own sampler chain.
"""

from __future__ import annotations

import codecs
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from thinkcli.engine import Token

if TYPE_CHECKING:
    from thinkcli.engine.llama import LlamaEngine


@dataclass(slots=True)
class _Seq:
    id: int
    history: list[int]  # decoded tokens, prompt included: the next position is len(history)
    sampler: object
    logits_index: int
    pending: list[int] = field(default_factory=list)  # sampled or injected, not yet decoded
    held: bool = False  # sampled an end-of-generation token; inject or it stops
    no_end: bool = False  # the next token may not end generation
    utf8: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )


class LlamaBatch:
    """Sequences sharing a prompt in one llama.cpp context (see ``thinkcli.engine.Batch``)."""

    def __init__(
        self,
        engine: LlamaEngine,
        *,
        n: int,
        prompt: list[int],
        prompt_tokens: int,
        prompt_eval_tokens: int,
        logits_index: int,
        samplers: list[object],
    ) -> None:
        self._engine = engine
        self.prompt_tokens = prompt_tokens
        self.prompt_eval_tokens = prompt_eval_tokens
        self._n_ctx = engine.info.n_ctx
        self._seqs = {
            s: _Seq(s, history=list(prompt), sampler=samplers[s], logits_index=logits_index)
            for s in range(n)
        }
        self._live = list(self._seqs)

    @property
    def live(self) -> list[int]:
        return list(self._live)

    def step(self) -> list[Token]:
        self._decode_pending()
        chosen: list[tuple[_Seq, int]] = []
        for s in list(self._live):
            seq = self._seqs[s]
            if seq.held:
                self.stop(s)
                continue
            token = self._engine.sample(seq.sampler, seq.logits_index)
            if seq.no_end and self._engine.is_eog(token):
                token = self._engine.sample_without_end(seq.sampler, seq.logits_index)
            seq.no_end = False
            chosen.append((seq, token))
        if not chosen:
            return []
        # One vectorised pass over every path's logits row, after any end mask.
        logprobs, confidences = self._engine.token_stats(
            [seq.logits_index for seq, _ in chosen], [token for _, token in chosen]
        )
        out: list[Token] = []
        for (seq, token), logprob, confidence in zip(chosen, logprobs, confidences):
            if self._engine.is_eog(token):
                seq.held = True
                out.append(Token(seq.id, "", logprob, eog=True, confidence=confidence))
                continue
            seq.pending.append(token)
            out.append(Token(seq.id, seq.utf8.decode(self._engine.piece(token)), logprob, confidence=confidence))
        return out

    def _decode_pending(self) -> None:
        entries: list[tuple[int, int, int, bool]] = []
        last: dict[int, int] = {}
        for s in self._live:
            seq = self._seqs[s]
            for i, token in enumerate(seq.pending):
                entries.append((s, len(seq.history) + i, token, i == len(seq.pending) - 1))
            if seq.pending:
                last[s] = len(entries) - 1
        if not entries:
            return
        self._engine.decode(entries)
        for s, index in last.items():
            seq = self._seqs[s]
            seq.logits_index = index
            seq.history += seq.pending
            seq.pending = []

    def inject(self, seq: int, text: str) -> int:
        """Force ``text`` into ``seq`` after its last token; returns its token count."""
        tokens = self._engine.tokenize(text)
        state = self._seqs[seq]
        state.pending += tokens
        state.held = False
        return len(tokens)

    def forbid_end(self, seq: int) -> None:
        """The next token of ``seq`` may not be an end-of-generation token."""
        self._seqs[seq].no_end = True

    def rewind(self, seq: int, n_tokens: int) -> None:
        state = self._seqs[seq]
        undecoded = min(n_tokens, len(state.pending))
        del state.pending[len(state.pending) - undecoded :]
        forget = min(n_tokens - undecoded, len(state.history) - self.prompt_tokens)
        if not state.pending:
            forget += 1  # re-decode the new last token: its logits are gone
            state.pending = [state.history[-forget]]
        del state.history[len(state.history) - forget :]
        self._engine.forget(seq, len(state.history))
        state.held = False
        state.utf8.reset()

    def choice_logprobs(self, seq: int, choices: Sequence[Sequence[str]]) -> list[float]:
        self._decode_pending()
        index = self._seqs[seq].logits_index
        out = []
        for spellings in choices:
            firsts = {self._engine.tokenize(text)[0] for text in spellings}
            out.append(_logsumexp([self._engine.logprob(index, token) for token in firsts]))
        return out

    def stop(self, seq: int) -> None:
        if seq in self._live:
            self._live.remove(seq)
            self._seqs[seq].pending = []  # never decoded: it must not count against room()
            if seq != 0:  # sequence 0 stays cached for the next prompt
                self._engine.forget(seq, 0)
                del self._seqs[seq].history[self.prompt_tokens :]

    def room(self) -> int:
        used = self.prompt_tokens + sum(
            len(x.history) - self.prompt_tokens + len(x.pending) for x in self._seqs.values()
        )
        return self._n_ctx - used

    def close(self) -> None:
        for s in list(self._live):
            self.stop(s)
        self._engine.remember(self._seqs[0].history)
        for seq in self._seqs.values():
            if seq.sampler is not None:
                self._engine.free_sampler(seq.sampler)
                seq.sampler = None


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))
