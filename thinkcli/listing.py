"""``thinkcli models``: the local model store, the catalog, or a server's models, as a table or JSON."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from thinkcli.config import Settings
from thinkcli.env import Environment
from thinkcli.load import connect, model_store
from thinkcli.models.catalog import CATALOG, DEFAULT_MODEL, HubFile


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def print_models(env: Environment, *, json_out: bool) -> None:
    """List every model in the store with its size, architecture, quantization and context."""
    models = model_store(env.vars).list()  # the names -m, rm and pull accept
    if json_out:
        rows = [
            {
                "name": m.ref,
                "path": str(m.path),
                "size_bytes": m.size_bytes,
                "architecture": m.info.architecture if m.info else None,
                "quantization": m.info.quantization if m.info else None,
                "context_length": m.info.context_length if m.info else None,
                "reasoning_template": m.info.reasoning if m.info else None,
                "error": m.error,
            }
            for m in models
        ]
        env.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    out = env.out_console()
    if not models:
        env.err_console().print(f"No models yet. Run `thinkcli pull {DEFAULT_MODEL}` (or just `thinkcli ask`).")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("NAME", "SIZE", "ARCH", "QUANT", "CONTEXT", "REASONING"):
        table.add_column(column, justify="right" if column in ("SIZE", "CONTEXT") else "left")
    for m in models:
        name = escape(m.ref)
        if m.info is None:
            table.add_row(name, _size(m.size_bytes), f"[red]{escape(m.error or '')}[/red]", "", "", "")
            continue
        table.add_row(
            name,
            _size(m.size_bytes),
            m.info.architecture or "?",
            m.info.quantization,
            f"{m.info.context_length:,}" if m.info.context_length else "?",
            "yes" if m.info.reasoning else "no",
        )
    out.print(table)


def print_catalog(env: Environment, *, json_out: bool) -> None:
    """List the models thinkcli can pull by name, with their download size and whether they are here."""
    store = model_store(env.vars)
    entries = list(CATALOG.values())
    pulled = {e.name: store.path_for(e).is_file() for e in entries}
    if json_out:
        rows = [
            {"name": e.name, "description": e.description, "size_bytes": e.size_bytes,
             "pulled": pulled[e.name],
             "source": e.source.ref if isinstance(e.source, HubFile) else e.source.spec}
            for e in entries
        ]
        env.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("NAME")
    table.add_column("SIZE", justify="right")
    table.add_column("PULLED")
    table.add_column("DESCRIPTION")
    for e in entries:
        name = e.name + (" (default)" if e.name == DEFAULT_MODEL else "")
        table.add_row(name, _size(e.size_bytes), "yes" if pulled[e.name] else "", e.description)
    env.out_console().print(table)


def print_served(env: Environment, settings: Settings, *, json_out: bool) -> None:
    """List what an OpenAI-compatible server offers (``/v1/models``)."""
    from thinkcli.engine.remote import list_models

    client = connect(settings, env.vars, env.err_console())
    try:
        served = list_models(client)
    finally:
        client.close()
    if json_out:
        rows = [{"name": m["id"], "owned_by": m.get("owned_by"), "context_length": m.get("max_model_len")} for m in served]
        env.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not served:
        env.err_console().print(f"{client.api} lists no models.")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("NAME", "OWNED BY", "CONTEXT"):
        table.add_column(column, justify="right" if column == "CONTEXT" else "left")
    for m in served:
        length = m.get("max_model_len")
        table.add_row(escape(m["id"]), escape(str(m.get("owned_by") or "")), f"{length:,}" if isinstance(length, int) else "")
    env.out_console().print(table)
