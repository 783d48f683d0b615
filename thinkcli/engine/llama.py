"""The llama.cpp engine (with ``llama_tokens.py`` and ``batch.py``, the only code that
imports ``llama_cpp``).

It owns the model and context lifetime, evaluates a prompt once, copies its KV
cache to several sequences and decodes them together in one ``llama_decode``
batch, each with its own sampler chain. Everything leaving it is our own type.
"""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import llama_cpp as lc

from thinkcli.engine import ModelInfo, Sampling, hardware
from thinkcli.engine.batch import LlamaBatch, common_prefix
from thinkcli.engine.hardware import Choice, ThreadChooser
from thinkcli.engine.llama_tokens import Tokens, sampler_chain
from thinkcli.engine.prompt import Prompt, render_marked
from thinkcli.engine.stats import StepStats
from thinkcli.engine.template import render_for
from thinkcli.errors import ContextOverflowError, ModelError


_GGML_LOG_DEBUG = 1
# Prompt tokens per llama_decode. Python sees Ctrl-C only between two calls, so a
# chunk must be short (a fraction of a second on two cores even deep in a long
# prompt); larger chunks were not measurably faster with this model.
PROMPT_CHUNK = 256
_log_callback = None  # must outlive every llama.cpp call: a collected callback segfaults
PROBE_NOTE = "Checking that llama.cpp's AMX kernels work on this CPU (once)…"


def _silence_llama_logs(debug: bool) -> None:
    global _log_callback

    def log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        if debug and text and level != _GGML_LOG_DEBUG:
            os.write(2, text)

    _log_callback = lc.llama_log_callback(log)
    lc.llama_log_set(_log_callback, ctypes.c_void_p(0))


def system_info() -> str:
    """What this llama.cpp build can do on this CPU (``AMX_INT8 = 1``, ``OPENMP = 1``, ...)."""
    return lc.llama_print_system_info().decode("utf-8", errors="replace")


def build_version() -> str:
    """The llama-cpp-python version, which pins the llama.cpp it was built from."""
    return getattr(lc, "__version__", "unknown")


def choose_repack(
    path: Path, setting: str = "auto", *, memory: Path | None = None, note: Callable[[str], None] | None = None
) -> Choice:
    """Whether llama.cpp may repack the weights of ``path`` on this machine.

    Where this build has AMX kernels, ``auto`` asks a child process first (once per
    build, CPU and model; see ``hardware.choose_repack``) and ``note`` is told while it runs.

    Args:
        path: the GGUF file.
        setting: ``auto``, ``on`` or ``off``.
        memory: the file of remembered probe results (default: ``hardware.memory_path()``).
        note: told, in one line, when a probe runs (it takes a model load).
    """
    system = system_info()

    def probe() -> int | None:
        if note is not None:
            note(PROBE_NOTE)
        return hardware.run_probe(path)

    return hardware.choose_repack(setting, system, memory=memory or hardware.memory_path(),
                                  key=hardware.probe_key(system, build_version(), path), probe=probe)


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can put layers on a GPU."""
    return bool(lc.llama_supports_gpu_offload())


class LlamaEngine(Tokens):
    """A GGUF model loaded through llama.cpp, ready to decode up to ``n_seq_max`` sequences.

    Args:
        path: the GGUF file.
        name: what to call the model in output.
        gpu_layers: layers to offload; -1 = all; None = all when the build supports it.
        ctx: context size in cells (shared by all sequences); None = ``want_ctx``. It may
            be more than the model was trained on: positions are per sequence, and the
            planner keeps every sequence within the trained length.
        want_ctx: the context the planned run would like when ``ctx`` is None.
        threads: CPU threads; None = the physical cores other processes leave free,
            measured while the model loads and again as the load changes.
        n_seq_max: most sequences one batch may hold.
        repack: let llama.cpp repack weights for its CPU kernels (``use_extra_bufts``):
            True or False, a decision ``choose_repack`` made, or a setting for it (``auto``:
            on, except where this CPU's AMX kernels crash, which a child process finds out once).
        note: told when the repack decision needs a probe.
        debug: let llama.cpp's own log through to stderr.
    """

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        gpu_layers: int | None = None,
        ctx: int | None = None,
        want_ctx: int = 8192,
        threads: int | None = None,
        n_seq_max: int = 8,
        repack: bool | str | Choice = "auto",
        note: Callable[[str], None] | None = None,
        debug: bool = False,
    ) -> None:
        _silence_llama_logs(debug)
        if isinstance(repack, Choice):
            self.repack_choice = repack
        elif isinstance(repack, bool):
            self.repack_choice = Choice(repack, f"repack={repack} was asked for")
        else:
            self.repack_choice = choose_repack(path, repack, note=note)
        self._batch = None  # one llama_batch, grown on demand and reused for every decode
        self._batch_size = 0
        self._model = self._ctx = None
        self._gone = "the model is closed"  # why a call finds no context (see _require)
        lc.llama_backend_init()
        started = time.perf_counter()
        if gpu_layers is None:
            gpu_layers = -1 if gpu_offload_supported() else 0
        mparams = lc.llama_model_default_params()
        mparams.n_gpu_layers = 999 if gpu_layers < 0 else gpu_layers
        mparams.use_extra_bufts = bool(self.repack_choice.value)
        self._chooser = ThreadChooser() if threads is None else None  # measures over the load
        try:  # Ctrl-C lands when the load returns: a half-made engine must not keep the model
            self._model = lc.llama_model_load_from_file(str(path).encode(), mparams)
            if not self._model:
                raise ModelError(f"llama.cpp could not load {path} (run with --debug to see why)")
            self._setup(path, name, ctx=ctx, want_ctx=want_ctx, threads=threads, n_seq_max=n_seq_max,
                        gpu_layers=gpu_layers, started=started)
        except BaseException:
            self.close()
            raise

    def _setup(self, path: Path, name: str, *, ctx: int | None, want_ctx: int, threads: int | None,
               n_seq_max: int, gpu_layers: int, started: float) -> None:
        """Everything after the model load: threads, the context, the caches and ``info``."""
        self._vocab = lc.llama_model_get_vocab(self._model)
        n_train = lc.llama_model_n_ctx_train(self._model)
        n_ctx = ctx or want_ctx
        if self._chooser is not None:
            self.threads_choice = self._chooser.choose(wait=True)
        else:
            self.threads_choice = Choice(threads, "--threads was set")
        self.threads = self.threads_choice.value
        self._path = path
        self._n_ctx = n_ctx
        self._make_context(n_seq_max)
        self._n_vocab = lc.llama_vocab_n_tokens(self._vocab)
        self._eog_ids = None  # end-of-generation token ids, found on first need
        self._eog: dict[int, bool] = {}
        self._control: dict[int, bool] = {}
        self._pieces: dict[int, bytes] = {}
        self._row_type = ctypes.c_float * self._n_vocab
        self._stats = StepStats(self._n_vocab)
        self.info = ModelInfo(
            name=name,
            path=str(path),
            n_ctx=lc.llama_n_ctx(self._ctx),
            n_ctx_train=n_train,
            chat_template=self._meta("tokenizer.chat_template"),
            bos_token=self._token_text(lc.llama_vocab_bos(self._vocab)),
            eos_token=self._token_text(lc.llama_vocab_eos(self._vocab)),
            gpu_layers=gpu_layers,
            load_s=time.perf_counter() - started,
        )

    def _make_context(self, n_seq_max: int) -> None:
        """A context for ``n_seq_max`` sequences; on failure there is none (the model stays)."""
        cparams = lc.llama_context_default_params()
        cparams.n_ctx = self._n_ctx
        cparams.n_batch = min(self._n_ctx, 2048)
        cparams.n_ubatch = min(self._n_ctx, 512)
        cparams.n_seq_max = n_seq_max
        cparams.kv_unified = True  # one shared cache: the prompt is stored once for all samples
        cparams.n_threads = self.threads
        cparams.n_threads_batch = self.threads
        ctx = lc.llama_init_from_model(self._model, cparams)
        if not ctx:
            raise ModelError(f"llama.cpp could not create a {self._n_ctx}-token context for {self._path}")
        self._ctx = ctx
        self._mem = lc.llama_get_memory(ctx)
        self.n_seq_max = n_seq_max
        self._held: dict[int, list[int]] = {}  # tokens each sequence holds, for prefix reuse

    def resize(self, n_seq_max: int, *, n_ctx: int | None = None) -> None:
        """Recreate the context for ``n_seq_max`` sequences (and ``n_ctx`` cells), keeping the
        model loaded.

        The cached conversation is lost: the next prompt is evaluated in full. If
        llama.cpp cannot make the new context, a context of the old size is made again
        (the memory the old one held is free once more) and the error says so; if not
        even that works, the engine closes and every later call raises ``ModelError``.
        """
        self._require()
        old, old_ctx = self.n_seq_max, self._n_ctx
        self._free_context()
        try:
            try:
                self._n_ctx = n_ctx or old_ctx
                self._make_context(max(1, n_seq_max))
            except ModelError as exc:
                self._n_ctx = old_ctx
                self._make_context(old)
                raise ModelError(f"{exc}; it keeps its {old}-sequence context") from None
            finally:
                if self._ctx:
                    self.info = replace(self.info, n_ctx=lc.llama_n_ctx(self._ctx))
        finally:
            if not self._ctx:  # neither size could be made (or Ctrl-C came in between)
                self.close()
                self._gone = ("the model is no longer loaded: llama.cpp could not remake its context "
                              "(load it again)")

    def _require(self) -> None:
        """Refuse, in one line, a call that would reach a freed context or model."""
        if not self._ctx:
            raise ModelError(self._gone)

    def _free_context(self) -> None:
        if self._batch is not None:  # sized by the old context's n_batch
            lc.llama_batch_free(self._batch)
            self._batch, self._batch_size = None, 0
        if self._ctx:
            lc.llama_free(self._ctx)
            self._ctx = self._mem = None

    # -- text and tokens ------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        self._require()
        size = lc.llama_model_meta_val_str(self._model, key.encode(), None, 0)
        if size < 0:
            return None
        buf = ctypes.create_string_buffer(size + 1)
        lc.llama_model_meta_val_str(self._model, key.encode(), buf, size + 1)
        return buf.value.decode("utf-8", errors="replace")

    def render(self, messages: list[dict], **template_kwargs: object) -> Prompt:
        """The conversation in the model's template; its texts are data (see ``Prompt``)."""
        return render_marked(lambda marked: render_for(self.info, marked, **template_kwargs), messages)

    # -- decoding -------------------------------------------------------------

    def start(self, prompt: str, *, n: int, sampling: Sampling, seeds: Sequence[int]) -> LlamaBatch:
        """Evaluate ``prompt`` once (reusing any cached prefix) and open ``n`` sequences on it."""
        self._require()
        if n > self.n_seq_max:
            raise ModelError(f"{n} samples need a context made for {n} sequences (have {self.n_seq_max})")
        tokens = self.prompt_tokens(prompt, room=self.info.n_ctx - n)
        self._adapt_threads(wait=False)
        keep = self._reuse(tokens)
        last_index = self.decode_prompt(tokens[keep:], start=keep)
        self._held = {0: list(tokens)}
        for seq in range(1, n):
            lc.llama_memory_seq_cp(self._mem, 0, seq, -1, -1)
        return LlamaBatch(
            self,
            n=n,
            prompt_tokens=len(tokens),
            prompt_eval_tokens=len(tokens) - keep,
            logits_index=last_index,
            samplers=[sampler_chain(sampling, seed) for seed in seeds[:n]],
            prompt=tokens,
        )

    def prompt_tokens(self, prompt: str, *, room: int) -> list[int]:
        """``prompt`` as tokens (with BOS where the model wants one), refused if over ``room``."""
        self._require()
        add_bos = bool(lc.llama_vocab_get_add_bos(self._vocab)) and not (
            self.info.bos_token and prompt.startswith(self.info.bos_token)
        )
        tokens = self.text_tokens(prompt, add_bos=add_bos)
        if len(tokens) >= room:
            raise ContextOverflowError(
                f"the prompt is {len(tokens)} tokens but the context holds {self.info.n_ctx} "
                "(shorten the input or raise --ctx)"
            )
        return tokens

    def share_prefix(self, seq: int, upto: int) -> None:
        """Make ``seq`` hold sequence 0's first ``upto`` positions, and nothing else."""
        self._require()
        lc.llama_memory_seq_rm(self._mem, seq, -1, -1)
        if upto > 0:
            lc.llama_memory_seq_cp(self._mem, 0, seq, 0, upto)

    @property
    def n_batch(self) -> int:
        """Most tokens thinkcli gives one ``llama_decode``: few enough that Ctrl-C, noticed
        only between two calls, stops a long prompt within a chunk."""
        self._require()
        return min(PROMPT_CHUNK, lc.llama_n_batch(self._ctx))

    def _reuse(self, tokens: list[int]) -> int:
        """Put the cached path sharing the longest prefix with ``tokens`` on sequence 0.

        After a vote the chosen path need not be sequence 0; continuing it (a follow-up
        that re-renders its answer) saves evaluating that answer again. Every other
        sequence is cleared. Returns how many tokens of ``tokens`` are already there.
        """
        held = self._held or {0: []}
        best = max(held, key=lambda s: (common_prefix(held[s], tokens, limit=len(tokens) - 1), s == 0))
        if best != 0:
            lc.llama_memory_seq_rm(self._mem, 0, -1, -1)
            lc.llama_memory_seq_cp(self._mem, best, 0, -1, -1)
        for seq in range(1, self.n_seq_max):
            lc.llama_memory_seq_rm(self._mem, seq, -1, -1)
        keep = common_prefix(held[best], tokens, limit=len(tokens) - 1)
        lc.llama_memory_seq_rm(self._mem, 0, keep, -1)
        self._held = {0: tokens[:keep]}
        return keep

    def decode_prompt(self, tokens: list[int], *, start: int) -> int:
        """Decode ``tokens`` on sequence 0 from position ``start``; returns the logits' batch index.

        Small chunks: Ctrl-C is noticed only between two ``llama_decode`` calls.
        """
        step = self.n_batch
        for offset in range(0, len(tokens), step):
            chunk = tokens[offset : offset + step]
            last = offset + step >= len(tokens)
            self.decode([(0, start + offset + i, t, last and i == len(chunk) - 1) for i, t in enumerate(chunk)])
        return len(tokens) - 1 - (len(tokens) - 1) // step * step

    def _adapt_threads(self, *, wait: bool) -> None:
        """Follow the machine's load: fewer threads when other processes take cores."""
        if self._chooser is None:
            return
        threads = self._chooser.choose(wait=wait).value
        if threads != self.threads:
            self.threads = threads
            lc.llama_set_n_threads(self._ctx, threads, threads)

    def decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` over ``(seq, pos, token, wants_logits)`` entries."""
        self._require()
        if self._chooser is not None and self._chooser.due():
            self._adapt_threads(wait=False)
        batch = self._batch_for(len(entries))
        for i, (seq, pos, token, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        batch.n_tokens = len(entries)
        status = lc.llama_decode(self._ctx, batch)
        if status == 1:
            raise ContextOverflowError(f"the {self.info.n_ctx}-token context is full (raise --ctx)")
        if status != 0:
            raise ModelError(f"llama.cpp failed to decode a batch (status {status})")

    def _batch_for(self, size: int):
        if self._batch_size < size:
            if self._batch is not None:
                lc.llama_batch_free(self._batch)
            self._batch_size = max(size, lc.llama_n_batch(self._ctx))
            self._batch = lc.llama_batch_init(self._batch_size, 0, 1)
        return self._batch

    def forget(self, seq: int, from_pos: int) -> None:
        self._require()
        lc.llama_memory_seq_rm(self._mem, seq, from_pos, -1)

    def copy_sequence(self, source: int, seq: int) -> None:
        """Make ``seq`` hold every cell of ``source`` too (nothing is copied: cells are shared)."""
        lc.llama_memory_seq_rm(self._mem, seq, -1, -1)
        lc.llama_memory_seq_cp(self._mem, source, seq, -1, -1)

    def remember(self, held: dict[int, list[int]]) -> None:
        """Record what each sequence holds after a batch, so the next prompt can reuse it."""
        self._held = {seq: list(tokens) for seq, tokens in held.items()}

    def close(self) -> None:
        """Free the context and the model; later calls raise ``ModelError``; closing twice is harmless."""
        self._free_context()
        if self._model:
            lc.llama_model_free(self._model)
            self._model = None
