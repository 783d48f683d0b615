"""Tokens in and out of a llama.cpp model: the vocabulary, the logits a decode leaves, sampling.

``Tokens`` is the part of ``LlamaEngine`` that turns text into tokens and back (a user's
text never becomes a control token: see ``Prompt``), reads each path's log-probability
and token confidence off a decode's logits, and samples with a path's sampler chain.
"""

from __future__ import annotations

import ctypes
import math
from typing import Sequence

import llama_cpp as lc
import numpy as np

from thinkcli.engine import Sampling
from thinkcli.engine.prompt import Prompt


class Tokens:
    """Mixed into ``LlamaEngine``: it sets ``_vocab``, ``_ctx``, ``_n_vocab``, ``_row_type``,
    ``_stats``, the caches ``_pieces``, ``_eog``, ``_control``, ``_eog_ids``, and ``_require``."""

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.piece(token).decode("utf-8", errors="replace")

    def piece(self, token: int) -> bytes:
        """The bytes of ``token`` (special tokens included), cached: called for every token."""
        data = self._pieces.get(token)
        if data is None:
            data = self._pieces[token] = self._piece(token)
        return data

    def _piece(self, token: int) -> bytes:
        self._require()
        buf = ctypes.create_string_buffer(64)
        n = lc.llama_token_to_piece(self._vocab, token, buf, 64, 0, True)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = lc.llama_token_to_piece(self._vocab, token, buf, -n, 0, True)
        return buf.raw[:n]

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """``text`` as tokens; ``special``: the text of a control token is that token."""
        self._require()
        data = text.encode("utf-8")
        room = len(data) + 8
        buf = (lc.llama_token * room)()
        n = lc.llama_tokenize(self._vocab, data, len(data), buf, room, add_bos, special)
        if n < 0:
            room = -n
            buf = (lc.llama_token * room)()
            n = lc.llama_tokenize(self._vocab, data, len(data), buf, room, add_bos, special)
        return list(buf[:n])

    def text_tokens(self, text: str, *, add_bos: bool = False) -> list[int]:
        """``text`` as tokens, where a ``Prompt``'s data never becomes a control token.

        The whole text is tokenized as usual; only if that finds control tokens the
        template segments alone do not (the user wrote one) is each segment tokenized
        on its own, the data without special parsing. Usual prompts keep the exact
        tokens of one pass (a boundary between two passes can tokenize differently).
        """
        whole = self.tokenize(text, add_bos=add_bos)
        if not isinstance(text, Prompt) or not text.has_data:
            return whole
        parts: list[int] = []
        for i, (segment, data) in enumerate(text.segments):
            parts += self.tokenize(segment, add_bos=add_bos and i == 0, special=not data)
        return whole if self._controls(whole) == self._controls(parts) else parts

    def _controls(self, tokens: list[int]) -> list[int]:
        """The control (and unknown) tokens among ``tokens``: what special parsing adds."""
        out = []
        for token in tokens:
            control = self._control.get(token)
            if control is None:
                attr = lc.llama_vocab_get_attr(self._vocab, token)
                control = bool(attr & (lc.LLAMA_TOKEN_ATTR_CONTROL | lc.LLAMA_TOKEN_ATTR_UNKNOWN))
                self._control[token] = control
            if control:
                out.append(token)
        return out

    def count_tokens(self, text: str) -> int:
        return len(self.text_tokens(text))

    def is_eog(self, token: int) -> bool:
        eog = self._eog.get(token)
        if eog is None:
            self._require()
            eog = self._eog[token] = bool(lc.llama_vocab_is_eog(self._vocab, token))
        return eog

    def _logits(self, batch_index: int) -> np.ndarray:
        """The logits row of ``batch_index``, as a numpy view (no copy)."""
        self._require()
        ptr = lc.llama_get_logits_ith(self._ctx, batch_index)
        return np.frombuffer(self._row_type.from_address(ctypes.addressof(ptr.contents)), dtype=np.float32)

    def token_stats(self, batch_indices: Sequence[int], tokens: Sequence[int]) -> tuple[list[float], list[float]]:
        """Each chosen token's log-probability and its position's token confidence.

        llama.cpp keeps a decode's output rows contiguous, so the rows of every
        index are one ``(rows, vocab)`` view and the numbers come from one
        vectorised ``StepStats.compute`` call for all paths.
        """
        self._require()
        base = lc.llama_get_logits(self._ctx)
        start = ctypes.addressof(base.contents)
        row_bytes = 4 * self._n_vocab
        rows = [
            (ctypes.addressof(lc.llama_get_logits_ith(self._ctx, i).contents) - start) // row_bytes
            for i in batch_indices
        ]
        count = max(rows) + 1
        block = np.frombuffer((ctypes.c_float * (count * self._n_vocab)).from_address(start), dtype=np.float32)
        block = block.reshape(count, self._n_vocab)
        logprob, confidence = self._stats.compute(block, np.asarray(tokens), np.asarray(rows))
        return logprob.tolist(), confidence.tolist()

    def logprob(self, batch_index: int, token: int) -> float:
        """Log-probability of ``token`` under the raw distribution at ``batch_index``."""
        logits = self._logits(batch_index)
        top = float(logits.max())
        return float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))

    def sampler(self, sampling: Sampling, seed: int):
        """A new sampler chain (the batch that uses it frees it)."""
        return sampler_chain(sampling, seed)

    def sample(self, sampler, batch_index: int) -> int:
        self._require()
        return lc.llama_sampler_sample(sampler, self._ctx, batch_index)

    def sample_without_end(self, sampler, batch_index: int) -> int:
        """Sample again with every end-of-generation token masked out of the logits."""
        self._require()
        if self._eog_ids is None:
            self._eog_ids = np.array([t for t in range(self._n_vocab) if self.is_eog(t)], dtype=np.int64)
        self._logits(batch_index)[self._eog_ids] = -np.inf
        return lc.llama_sampler_sample(sampler, self._ctx, batch_index)

    def free_sampler(self, chain) -> None:
        lc.llama_sampler_free(chain)



def sampler_chain(sampling: Sampling, seed: int):
    chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
    if sampling.temperature <= 0:
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
        return chain
    if sampling.top_k > 0:
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_k(sampling.top_k))
    if sampling.top_p < 1.0:
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(sampling.top_p, 1))
    lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(sampling.temperature))
    lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed & 0xFFFFFFFF))
    return chain


