"""Several sequences decoding together over one evaluated prompt.

Each ``step()`` feeds every live sequence's pending tokens (its last sampled
token plus anything injected) to one ``llama_decode`` and samples each sequence
from its own logits with its own sampler chain.
"""

from __future__ import annotations

import codecs
import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

from thinkcli.engine import ModelInfo, Sampling, Token


class Decoder(Protocol):
    """What a batch asks of ``LlamaEngine``: the context it decodes in, and its tokens."""

    info: ModelInfo
    n_batch: int

    def decode(self, entries: list[tuple[int, int, int, bool]]) -> None: ...
    def prompt_tokens(self, prompt: str, *, room: int) -> list[int]: ...
    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]: ...
    def piece(self, token: int) -> bytes: ...
    def is_eog(self, token: int) -> bool: ...
    def sampler(self, sampling: Sampling, seed: int) -> object: ...
    def free_sampler(self, chain: object) -> None: ...
    def sample(self, sampler: object, batch_index: int) -> int: ...
    def sample_without_end(self, sampler: object, batch_index: int) -> int: ...
    def token_stats(self, batch_indices: Sequence[int], tokens: Sequence[int]) -> tuple[list[float], list[float]]: ...
    def logprob(self, batch_index: int, token: int) -> float: ...
    def forget(self, seq: int, from_pos: int) -> None: ...
    def share_prefix(self, seq: int, upto: int) -> None: ...
    def copy_sequence(self, source: int, seq: int) -> None: ...
    def remember(self, held: dict[int, list[int]]) -> None: ...


@dataclass(slots=True)
class _Seq:
    id: int
    history: list[int]  # decoded tokens, prompt included: the next position is len(history)
    sampler: object
    logits_index: int
    prompt_len: int  # the first prompt_len tokens of history are this sequence's prompt
    shared: int  # prompt positions whose cells it shares with ``source`` (counted there)
    pending: list[int] = field(default_factory=list)  # sampled or injected, not yet decoded
    source: int = 0  # the sequence its shared cells are counted in
    clone_of: int | None = None  # takes this sequence's prompt once that has been decoded
    held: bool = False  # sampled an end-of-generation token; inject or it stops
    no_end: bool = False  # the next token may not end generation
    utf8: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )


class LlamaBatch:
    """Sequences sharing a prompt in one llama.cpp context (see ``thinkcli.engine.Batch``)."""

    def __init__(
        self,
        engine: Decoder,
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
        self.cached_tokens = prompt_tokens - prompt_eval_tokens
        self._n_ctx = engine.info.n_ctx
        self._positions = engine.info.n_ctx_train or engine.info.n_ctx  # per sequence
        self._seqs = {
            s: _Seq(s, history=list(prompt), sampler=samplers[s], logits_index=logits_index,
                    prompt_len=len(prompt), shared=len(prompt) if s else 0)
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
            if seq.clone_of is not None:
                continue  # its prompt is not decoded yet
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
        early: list[tuple[int, int, int, bool]] = []  # tokens whose logits nobody reads
        final: list[tuple[int, int, int, bool]] = []  # each sequence's last token: sampled next
        for s in self._live:
            seq = self._seqs[s]
            n = len(seq.pending)
            early += [(s, len(seq.history) + i, token, False) for i, token in enumerate(seq.pending[:-1])]
            if n:
                final.append((s, len(seq.history) + n - 1, seq.pending[-1], True))
        if not final:
            return
        # Logits survive only the last llama_decode: what does not fit in one chunk (a newly
        # admitted prompt) goes first, in chunks, and every sampled row comes last.
        size = self._engine.n_batch
        if len(early) + len(final) > size:
            for offset in range(0, len(early), size):
                self._engine.decode(early[offset : offset + size])
            early = []
        self._engine.decode(early + final)
        for index, (s, *_rest) in enumerate(final, start=len(early)):
            seq = self._seqs[s]
            seq.logits_index = index
            seq.history += seq.pending
            seq.pending = []
        for seq in self._seqs.values():  # paths opened on a prompt that is now decoded
            source = self._seqs[seq.clone_of] if seq.clone_of is not None else None
            if source is not None and not source.pending and source.logits_index >= 0:
                self._engine.copy_sequence(source.id, seq.id)
                seq.history, seq.logits_index = list(source.history), source.logits_index
                seq.shared, seq.source, seq.clone_of = len(source.history), source.id, None

    def admit(self, seqs: Sequence[int], prompt: str, *, sampling: Sampling, seeds: Sequence[int]) -> tuple[int, int]:
        """Start ``prompt`` on ``seqs`` (free or stopped) while the others go on decoding.

        The prompt is evaluated once, on the first of ``seqs``, with the next step; the
        prefix it shares with sequence 0's prompt is copied, not evaluated. The other
        sequences take its cells once it is decoded, as ``LlamaEngine.start`` does.

        Returns:
            The prompt tokens that will be evaluated, and the prompt's length.
        """
        first, *clones = seqs
        donor = self._seqs[0]
        tokens = self._engine.prompt_tokens(prompt, room=self.room())
        # The donor's last prompt token is never shared: it may have to be decoded again.
        keep = common_prefix(donor.history[: donor.prompt_len - 1], tokens, limit=len(tokens) - 1)
        for other in self._live:  # logits not sampled yet would not survive the next decode
            state = self._seqs[other]
            if not state.pending and not state.held and state.clone_of is None:
                self._engine.forget(other, len(state.history) - 1)
                state.pending = [state.history.pop()]
        for seq in seqs:
            self._release(seq, keep=keep if seq == 0 else 0)
        if first != 0:
            self._engine.share_prefix(first, keep)
        self._seqs[first] = _Seq(first, history=tokens[:keep], sampler=self._engine.sampler(sampling, seeds[0]),
                                 logits_index=-1, prompt_len=len(tokens), shared=keep if first else 0,
                                 pending=tokens[keep:])
        for seq, seed in zip(clones, seeds[1:]):
            self._seqs[seq] = _Seq(seq, history=[], sampler=self._engine.sampler(sampling, seed), logits_index=-1,
                                   prompt_len=len(tokens), shared=0, clone_of=first)
        for seq in seqs:
            if seq not in self._live:
                self._live.append(seq)
        return len(tokens) - keep, len(tokens)

    def _release(self, seq: int, *, keep: int = 0) -> None:
        """Empty ``seq`` but for its first ``keep`` positions; what others shared through it
        past those is theirs to count now."""
        old = self._seqs.get(seq)
        if old is not None and old.sampler is not None:
            self._engine.free_sampler(old.sampler)
            old.sampler = None
        self._engine.forget(seq, keep)
        for other in self._seqs.values():
            if other.id != seq and other.source == seq:
                other.shared = min(other.shared, keep)
        if old is not None:
            del old.history[keep:]
            old.pending, old.shared = [], min(old.shared, keep)

    def free(self, seq: int) -> None:
        """Forget ``seq`` and its cells: a finished run's path makes room for others."""
        self.stop(seq)
        self._release(seq)

    def usage(self, seqs: Sequence[int]) -> tuple[int, int] | None:
        """A server's own counts; a local engine's counts are exact from the start."""
        return None

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
        forget = min(n_tokens - undecoded, len(state.history) - state.prompt_len)
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
        # Its cache stays until the next prompt, which may continue the path that was chosen.
        if seq in self._live:
            self._live.remove(seq)
            self._seqs[seq].pending = []  # never decoded: it must not count against room()

    def room(self, seq: int | None = None) -> int:
        """Cells left in the context; for ``seq``, no more than the positions it has left
        before it runs past what the model was trained on."""
        used = sum(len(x.history) + len(x.pending) - x.shared for x in self._seqs.values())
        left = self._n_ctx - used
        if seq is not None and seq in self._seqs:
            state = self._seqs[seq]
            left = min(left, self._positions - len(state.history) - len(state.pending))
        return left

    def close(self) -> None:
        for s in list(self._live):
            self.stop(s)
        self._engine.remember({s: seq.history for s, seq in self._seqs.items()})
        for seq in self._seqs.values():
            if seq.sampler is not None:
                self._engine.free_sampler(seq.sampler)
                seq.sampler = None


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def common_prefix(a: list[int], b: list[int], *, limit: int) -> int:
    """How many leading tokens ``a`` and ``b`` share, at most ``limit``."""
    n = 0
    for x, y in zip(a, b):
        if x != y or n >= limit:
            break
        n += 1
    return n
