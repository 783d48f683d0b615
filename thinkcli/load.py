"""Find, fetch and open the model a run asks for.

Resolves ``--model`` through the store, pulls catalog and hub models on first
use (progress on stderr), validates the GGUF file, then loads it in llama.cpp.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Mapping

from rich.console import Console

from thinkcli.config import Settings, data_dir
from thinkcli.engine import Engine, ModelInfo, families
from thinkcli.errors import ModelError, ThinkError, UsageError
from thinkcli.models.gguf import GGUFInfo, read_gguf
from thinkcli.models.store import ModelStore, NotPulled
from thinkcli.engine.template import read_template_file


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
    """Load the configured model in llama.cpp, sized for ``n_seq_max`` parallel samples,
    or connect to the configured server (``backend = "openai"``).

    Without ``--ctx`` the context is ``want_ctx`` cells (the planner's; see ``thinkcli.planner``).
    """
    if settings.backend == "openai":
        return open_remote(settings, env, err, debug=debug)
    own_template = template_file(settings)  # a broken file fails before a model is fetched or loaded
    path, info = locate(settings, env, err)
    from thinkcli import crash
    from thinkcli.engine import hardware, llama  # only now: --help never loads llama.cpp

    repack = llama.choose_repack(path, settings.repack, memory=hardware.memory_path(env),
                                 note=lambda text: err.print(f"[dim]{text}[/dim]"))
    # Started now, the watcher comes up while the model loads; AMX is blamed only where it can be.
    crash.install(debug=debug, amx=hardware.has_amx(llama.system_info()) and bool(repack.value))
    engine = llama.LlamaEngine(
        path,
        name=settings.model if not settings.model.endswith(".gguf") else info.name,
        gpu_layers=settings.gpu_layers,
        ctx=settings.ctx,
        want_ctx=want_ctx,
        threads=settings.threads,
        n_seq_max=max(1, n_seq_max),
        repack=repack,
        debug=debug,
    )
    try:  # a bad template file (or Ctrl-C) must not leave the loaded model behind
        engine.info = with_fallback(replace(engine.info, **own_template), path, info)
        if debug:
            err.print(f"[dim]repacking {'on' if repack.value else 'off'}: {repack.why}[/dim]", highlight=False)
            threads = engine.threads_choice
            err.print(f"[dim]threads {threads.value}: {threads.why}[/dim]", highlight=False)
    except BaseException:
        engine.close()
        raise
    return engine


def with_fallback(info: ModelInfo, path: Path, gguf: GGUFInfo) -> ModelInfo:
    """``info`` with a prompt format chosen by what the model holds, where neither the
    model nor ``--chat-template-file`` gives a chat template (see ``engine.families``)."""
    if info.chat_template is not None:
        return info
    from thinkcli.models.vocab import marker_tokens

    markers = marker_tokens(path, families.MARKERS)
    meta = gguf.metadata
    names = [gguf.name, str(meta.get("general.finetune") or ""), str(meta.get("general.basename") or ""), path.stem]
    chosen = families.choose(markers.found, markers.ends, architecture=gguf.architecture, names=names)
    return replace(info, chat_template=chosen.family.template, fallback=chosen)


_warned_clear: set[str] = set()  # servers already warned about (once a process: chat reconnects)


def template_file(settings: Settings) -> dict:
    """The ``ModelInfo`` fields ``--chat-template-file`` (``chat_template_file``) sets,
    read and checked now (before any model loads); empty when it is not set."""
    path = settings.chat_template_file
    if not path:
        return {}
    return {"chat_template": read_template_file(path), "chat_template_file": str(Path(path).expanduser())}


def with_template_file(info: ModelInfo, settings: Settings) -> ModelInfo:
    """``info`` with the template of ``--chat-template-file`` (``chat_template_file``), if set."""
    return replace(info, **template_file(settings))


def connect(settings: Settings, env: Mapping[str, str], err: Console):
    """A client for the configured server, with the key from ``api_key_env`` (never stored).

    A key about to go over plain http to another machine is warned about on ``err``, once.
    """
    from thinkcli.engine.remote.client import Client

    if not settings.base_url:
        raise UsageError("--backend openai needs a server: --base-url URL (or base_url in the config)")
    client = Client(settings.base_url, env.get(settings.api_key_env) or None, key_env=settings.api_key_env)
    if client.key_in_clear and client.root not in _warned_clear:
        _warned_clear.add(client.root)
        err.print(f"warning: the key in {settings.api_key_env} goes to {client.root} over plain http, "
                  "readable on the way; use https unless the network is yours",
                  style="yellow", markup=False, highlight=False, soft_wrap=True)
    return client


def open_remote(settings: Settings, env: Mapping[str, str], err: Console, *, debug: bool) -> Engine:
    """Connect to the configured OpenAI-compatible server and pick its model."""
    from thinkcli.engine.remote import RemoteEngine, list_models

    own_template = template_file(settings)
    client = connect(settings, env, err)
    try:
        model = pick_model(settings.model, [m["id"] for m in list_models(client)], client.api)
        engine = RemoteEngine(
            client, model, ctx=settings.ctx, chat_template=own_template.get("chat_template"),
            parallel=settings.parallel,
            local_template=lambda: _local_template(model, env),
            note=lambda text: err.print(f"note: {text}", style="dim", markup=False, highlight=False, soft_wrap=True),
        )
    except BaseException:
        client.close()
        raise
    if own_template:
        engine.info = replace(engine.info, chat_template_file=own_template["chat_template_file"])
    if debug:
        for what, how in engine.capabilities.items():
            err.print(f"[dim]{what}: {how}[/dim]", highlight=False)
    return engine


def pick_model(wanted: str, offered: list[str], where: str) -> str:
    """The served model to use: the one asked for, or the only one when none was chosen."""
    if wanted in offered or not offered:
        return wanted
    if len(offered) == 1 and wanted == Settings().model:
        return offered[0]  # the built-in default names a local model, not this server's
    listed = ", ".join(offered[:8]) + (", …" if len(offered) > 8 else "")
    raise ModelError(f"{where} has no model {wanted!r}; it serves: {listed} (choose one with --model)")


def _local_template(model: str, env: Mapping[str, str]) -> str | None:
    """The chat template of a served model that is also here (in the store, or at its path)."""
    try:
        path = model_store(env).resolve(model)
        return read_gguf(path).chat_template
    except (NotPulled, ThinkError, OSError):
        return None
