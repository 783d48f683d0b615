"""The vectorised per-step numbers against the plain per-row computation."""

from __future__ import annotations

import numpy as np
import pytest

from thinkcli.engine.stats import StepStats, reference_stats


def _check(rows: np.ndarray, chosen: np.ndarray, k: int = 20) -> None:
    logprob, confidence = StepStats(rows.shape[1], k).compute(rows, chosen)
    for i, row in enumerate(rows):
        want_lp, want_conf = reference_stats(row, int(chosen[i]), k)
        assert logprob[i] == pytest.approx(want_lp, abs=1e-4)
        assert confidence[i] == pytest.approx(want_conf, abs=1e-4)


@pytest.mark.parametrize("vocab", [49152, 151936])
@pytest.mark.parametrize("paths", [1, 4, 8])
def test_random_rows_match_the_plain_computation(vocab: int, paths: int) -> None:
    rng = np.random.default_rng(vocab + paths)
    rows = (rng.standard_normal((paths, vocab)) * 4).astype(np.float32)
    _check(rows, rng.integers(0, vocab, paths))


def test_ties_at_the_kth_place() -> None:
    rows = np.zeros((3, 4096), dtype=np.float32)
    rows[0, :50] = 5.0  # 50 equal leaders, k = 20 of them count
    rows[1, ::7] = 2.0  # the tie spread so the strided bound sees part of it
    rows[2, -30:] = np.arange(30, dtype=np.float32) // 3
    _check(rows, np.array([0, 7, 4095]))


def test_masked_entries_are_left_out() -> None:
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((2, 8192)).astype(np.float32)
    rows[0, rng.integers(0, 8192, 500)] = -np.inf  # the end-of-generation mask
    rows[0, np.argsort(rows[0])[-5:]] = -np.inf  # even among the would-be leaders
    rows[1, 10:] = -np.inf  # fewer finite entries than k
    _check(rows, np.array([1, 3]))


def test_a_fully_masked_row_does_not_poison_the_others() -> None:
    rows = np.full((2, 1024), -np.inf, dtype=np.float32)
    rows[1] = np.linspace(-3, 3, 1024, dtype=np.float32)
    logprob, confidence = StepStats(1024).compute(rows, np.array([0, 1023]))
    assert logprob[0] == -np.inf and confidence[0] == 0.0
    assert logprob[1] == pytest.approx(reference_stats(rows[1], 1023)[0], abs=1e-5)


def test_confidence_is_higher_for_a_sharper_row() -> None:
    flat = np.zeros(1000, dtype=np.float32)
    sharp = flat.copy()
    sharp[0] = 12.0
    _, confidence = StepStats(1000).compute(np.stack([flat, sharp]), np.array([0, 0]))
    assert confidence[0] == pytest.approx(np.log(1000), abs=1e-5)  # uniform: every token -log(V)
    assert confidence[1] > confidence[0] + 4


def test_buffers_are_kept_between_steps() -> None:
    stats = StepStats(512)
    rows = np.ones((4, 512), dtype=np.float32)
    stats.compute(rows, np.zeros(4, dtype=np.int64))
    kept = stats._exp
    stats.compute(rows[:2], np.zeros(2, dtype=np.int64))
    assert stats._exp is kept


def test_k_out_of_range() -> None:
    with pytest.raises(ValueError):
        StepStats(10, k=11)


def test_paths_sharing_a_row_each_get_their_own_token() -> None:
    rng = np.random.default_rng(9)
    rows = rng.standard_normal((1, 2048)).astype(np.float32)
    logprob, confidence = StepStats(2048).compute(rows, np.array([5, 9, 5]), np.array([0, 0, 0]))
    assert logprob[0] == logprob[2] != logprob[1]
    assert logprob[1] == pytest.approx(reference_stats(rows[0], 9)[0], abs=1e-5)
    assert len(set(confidence.tolist())) == 1
