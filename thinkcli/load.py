"""Find, fetch and open the model a run asks for.

Resolves ``--model`` through the store, pulls catalog and hub models on first
use (progress on stderr), validates the GGUF file, then loads it in llama.cpp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from rich.console import Console

from thinkcli.config import Settings, data_dir
from thinkcli.engine import Engine
from thinkcli.models.gguf import GGUFInfo, read_gguf
from thinkcli.models.store import ModelStore, NotPulled
from thinkcli.preview import with_template_file


def model_store(env: Mapping[str, str]) -> ModelStore:
    """The store under the data directory (``THINKCLI_HOME`` or the platform's)."""
    return ModelStore(data_dir(env) / "models")


def locate(settings: Settings, env: Mapping[str, str], err: Console) -> tuple[Path, GGUFInfo]:
    """The model file to use, pulled first if it is a catalog or hub model not yet here."""
    store = model_store(env)
    try:
        path = store.resolve(settings.model)
    except NotPulled as missing:
        err.print(f"[dim]Pulling {missing.ref} (first use)…[/dim]")
        path = store.pull(missing.ref, console=err)
    return path, read_gguf(path)


def open_engine(
    settings: Settings, env: Mapping[str, str], err: Console, *, n_seq_max: int, debug: bool, want_ctx: int = 8192
) -> Engine:
    """Load the configured model in llama.cpp, sized for ``n_seq_max`` parallel samples.

    Without ``--ctx`` the context is ``want_ctx`` (at least 8192) where the model was
    trained for that much.
    """
    path, info = locate(settings, env, err)
    from thinkcli import crash
    from thinkcli.engine import hardware, llama  # only now: --help never loads llama.cpp

    crash.install(debug=debug)
    system = llama.system_info()
    repack = hardware.choose_repack(
        settings.repack,
        system,
        memory=data_dir(env) / "hardware.json",
        key=hardware.probe_key(system, llama.build_version(), path),
        probe=lambda: _probe(path, err),
    )
    engine = llama.LlamaEngine(
        path,
        name=settings.model if not settings.model.endswith(".gguf") else info.name,
        gpu_layers=settings.gpu_layers,
        ctx=settings.ctx,
        want_ctx=want_ctx,
        threads=settings.threads,
        n_seq_max=max(1, n_seq_max),
        repack=bool(repack.value),
        debug=debug,
    )
    engine.info = with_template_file(engine.info, settings)
    if debug:
        err.print(f"[dim]repacking {'on' if repack.value else 'off'}: {repack.why}[/dim]", highlight=False)
        threads = engine.threads_choice
        err.print(f"[dim]threads {threads.value}: {threads.why}[/dim]", highlight=False)
    return engine


def _probe(path: Path, err: Console) -> int | None:
    from thinkcli.engine import hardware

    err.print("[dim]Checking that llama.cpp's AMX kernels work on this CPU (once)…[/dim]")
    return hardware.run_probe(path)
