"""Shared pieces of the benchmarks: the model, a bare llama.cpp decode loop, medians."""

from __future__ import annotations

import ctypes
import os
import statistics
import time
from pathlib import Path

from rich.console import Console

from thinkcli.load import model_store

PROMPT = "Write a long story about a dragon who learns to count."
_quiet = None
THREADS = int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1))


def model_path() -> Path:
    """The default model, pulled into the store if needed."""
    store = model_store(os.environ)
    try:
        return store.resolve("smollm2-135m")
    except Exception:
        return store.pull("smollm2-135m", console=Console(stderr=True))


def median(values: list[float]) -> float:
    return statistics.median(values)


def bare_loop(path: Path, prompt: str, *, n_seq: int, n_tokens: int, seeds: list[int] | None = None,
              ctx: int = 4096) -> float:
    """A plain ctypes llama.cpp loop: n_seq sequences, n_tokens each, one batch per step.

    Returns the aggregate decode throughput (tokens per second, first to last decode).
    """
    import llama_cpp as lc

    global _quiet
    if _quiet is None:  # keep it referenced for the process: a collected callback segfaults
        _quiet = lc.llama_log_callback(lambda *_: None)
    lc.llama_log_set(_quiet, ctypes.c_void_p(0))
    lc.llama_backend_init()
    from thinkcli.engine.llama import choose_repack

    mparams = lc.llama_model_default_params()
    # As thinkcli decides it: llama.cpp's AMX kernels crash on some CPUs (the bare loop
    # would die where thinkcli runs).
    mparams.use_extra_bufts = bool(choose_repack(path).value)
    model = lc.llama_model_load_from_file(str(path).encode(), mparams)
    vocab = lc.llama_model_get_vocab(model)
    params = lc.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_seq_max, params.kv_unified = ctx, 512, max(n_seq, 1), True
    params.n_threads = params.n_threads_batch = THREADS
    ctx_p = lc.llama_init_from_model(model, params)
    mem = lc.llama_get_memory(ctx_p)
    buf = (lc.llama_token * 512)()
    data = prompt.encode()
    n_prompt = lc.llama_tokenize(vocab, data, len(data), buf, 512, True, True)
    batch = lc.llama_batch_init(512, 0, 1)
    for i in range(n_prompt):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = buf[i], i, 1
        batch.seq_id[i][0], batch.logits[i] = 0, i == n_prompt - 1
    batch.n_tokens = n_prompt
    assert lc.llama_decode(ctx_p, batch) == 0
    for s in range(1, n_seq):
        lc.llama_memory_seq_cp(mem, 0, s, -1, -1)
    chains = []
    for s in range(n_seq):
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        if seeds is None:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
        else:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_k(20))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(0.8))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seeds[s]))
        chains.append(chain)
    index = [n_prompt - 1] * n_seq
    piece = ctypes.create_string_buffer(64)
    start = time.perf_counter()
    for step in range(n_tokens):
        tokens = [lc.llama_sampler_sample(chains[s], ctx_p, index[s]) for s in range(n_seq)]
        for s, token in enumerate(tokens):
            lc.llama_token_to_piece(vocab, token, piece, 64, 0, True)
            batch.token[s], batch.pos[s], batch.n_seq_id[s] = token, n_prompt + step, 1
            batch.seq_id[s][0], batch.logits[s] = s, True
            index[s] = s
        batch.n_tokens = n_seq
        assert lc.llama_decode(ctx_p, batch) == 0
    elapsed = time.perf_counter() - start
    for chain in chains:
        lc.llama_sampler_free(chain)
    lc.llama_batch_free(batch)
    lc.llama_free(ctx_p)
    lc.llama_model_free(model)
    return n_seq * n_tokens / elapsed
