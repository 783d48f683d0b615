"""The numbers every step needs from its logits rows, for all live paths at once.

``StepStats.compute`` takes a ``(rows, vocab)`` block of logits and the token
each row's path chose, and returns each chosen token's log-probability and each
row's token confidence (DeepConf: minus the mean log-probability of the top-k
tokens) in a few vectorised numpy calls, into buffers it keeps between steps.
"""

from __future__ import annotations

import numpy as np

TOP_K = 20  # candidates behind a token's confidence (DeepConf's k)
_STRIDE = 16  # every 16th logit gives a cheap lower bound on the k-th largest


class StepStats:
    """Log-probabilities and token confidences of a step, one call for all paths.

    Args:
        n_vocab: the row length.
        k: top-k candidates per confidence.
    """

    def __init__(self, n_vocab: int, k: int = TOP_K) -> None:
        if k < 1 or k > n_vocab:
            raise ValueError(f"k must be in 1..{n_vocab}, got {k}")
        self.k = k
        self._n_vocab = n_vocab
        self._exp = np.empty((0, n_vocab), dtype=np.float32)
        self._mask = np.empty((0, n_vocab), dtype=bool)

    def _buffers(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self._exp.shape[0] < n:
            self._exp = np.empty((n, self._n_vocab), dtype=np.float32)
            self._mask = np.empty((n, self._n_vocab), dtype=bool)
        return self._exp[:n], self._mask[:n]

    def compute(
        self, rows: np.ndarray, chosen: np.ndarray, paths: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per path: its chosen token's log-probability and its row's token confidence.

        Args:
            rows: ``(n, vocab)`` float32 logits; ``-inf`` marks a masked token.
            chosen: one token id per path.
            paths: each path's row (default: path ``i`` reads row ``i``); paths
                that share a row (the prompt's last) share its normaliser.

        Returns:
            ``(logprob, confidence)``, one float64 per path. Confidence is
            ``log_sum_exp - mean(top-k finite logits)``: at least 0, higher when
            the distribution is sharper. A row with every token masked gives
            ``-inf`` and 0.
        """
        n = rows.shape[0]
        top = rows.max(axis=1)
        dead = ~np.isfinite(top)
        if dead.any():
            top = np.where(dead, 0.0, top).astype(np.float32)
        exps, mask = self._buffers(n)
        np.subtract(rows, top[:, None], out=exps)
        np.exp(exps, out=exps)
        with np.errstate(divide="ignore", invalid="ignore"):  # only a fully masked row
            # A float32 (pairwise) sum: accumulating in float64 costs a conversion pass
            # as slow as the exp, for a relative error of 1e-7 either way.
            lse = top.astype(np.float64) + np.log(exps.sum(axis=1).astype(np.float64))
            confidence = lse - self._top_mean(rows, mask)
        if dead.any():
            lse[dead], confidence[dead] = np.inf, 0.0
        paths = np.arange(n) if paths is None else paths
        logprob = rows[paths, chosen].astype(np.float64) - lse[paths]
        return logprob, confidence[paths]

    def _top_mean(self, rows: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean of each row's k largest finite logits.

        A full partition of a 150k-entry row costs more than the rest of the step:
        the k-th largest of every 16th entry bounds the row's k-th largest from
        below, so only the few entries at or above it are partitioned.
        """
        k = self.k
        n, vocab = rows.shape
        if vocab // _STRIDE >= k:
            bound = np.partition(rows[:, ::_STRIDE], vocab // _STRIDE - k, axis=1)[:, vocab // _STRIDE - k]
            np.greater_equal(rows, bound[:, None], out=mask)
        else:
            mask[:] = True
        means = np.empty(n, dtype=np.float64)
        for i in range(n):
            candidates = rows[i][mask[i]]
            if len(candidates) > k:
                candidates = np.partition(candidates, len(candidates) - k)[-k:]
            finite = candidates[np.isfinite(candidates)]
            means[i] = finite.mean(dtype=np.float64) if len(finite) else 0.0
        return means


def reference_stats(row: np.ndarray, token: int, k: int = TOP_K) -> tuple[float, float]:
    """The same two numbers for one row, computed the plain way (for tests and benchmarks)."""
    values = row.astype(np.float64)
    finite = values[np.isfinite(values)]
    if not len(finite):
        return -np.inf, 0.0
    top = finite.max()
    lse = top + np.log(np.exp(finite - top).sum())
    best = np.sort(finite)[::-1][:k]
    return float(values[token] - lse), float(lse - best.mean())
