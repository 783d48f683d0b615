"""``thinkcli tune --show`` and ``--reset``: a model's levels and where they came from.

Neither loads the model: a local model's file is read for its template and hashed for its
profile's key; a server's model is named by the server and the model's name.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from rich.table import Table

from thinkcli.config import Settings
from thinkcli.env import Environment
from thinkcli.errors import ExitStatus, ModelError
from thinkcli.tune.levels import ModelLevels
from thinkcli.tune.profile import remote_key


def model_key(levels: ModelLevels, settings: Settings) -> str:
    """The configured model's profile key, without loading it."""
    if settings.backend == "openai":
        return remote_key(settings.base_url, settings.model)
    path = levels.local_path(settings)
    if path is None:
        raise ModelError(f"model {settings.model} is not here yet: pull it first (thinkcli pull {settings.model})")
    key = levels.file_key(path)
    if key is None:
        raise ModelError(f"{path}: cannot be read")
    return key


def show_levels(env: Environment, settings: Settings, *, json_out: bool) -> ExitStatus:
    """Print the levels the configured model gets, where each came from, and its profile's table."""
    levels = ModelLevels(env.vars)
    key = model_key(levels, settings)
    profile = levels.profiles.load(key)
    table = levels.before_load(settings).efforts
    where = str(levels.profiles.path(key)) if profile else None
    if json_out:
        doc = {"model": settings.model, "key": key, "profile": where,
               "levels": {name: {k: v for k, v in asdict(p).items() if k != "name"} for name, p in table.items()},
               "tuned": profile.summary if profile else None}
        env.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return ExitStatus.OK
    out = env.out_console()
    origins = sorted({p.origin for p in table.values()})
    out.print(f"[bold]{settings.model}[/bold]: levels {'; '.join(origins)}", highlight=False)
    if settings.backend == "openai" and profile is None:
        out.print("[dim](a server's model gets the built-in table for its kind once thinkcli reads its template: "
                  "the reasoning one until then)[/dim]", highlight=False)
    out.print(_levels_table(table))
    if profile is not None:
        out.print(f"\nmeasured on {profile.source} ({profile.problems} problems) on {profile.tuned}; "
                  f"profile {where}", highlight=False)
        out.print(_tuned_table(profile.summary))
    return ExitStatus.OK


def reset_profile(env: Environment, settings: Settings) -> ExitStatus:
    """Forget the configured model's profile: it gets the built-in levels again."""
    levels = ModelLevels(env.vars)
    key = model_key(levels, settings)
    err = env.err_console()
    if levels.profiles.remove(key):
        err.print(f"forgot the profile of {settings.model}: it gets the built-in levels for its kind again",
                  highlight=False)
    else:
        err.print(f"{settings.model} has no profile: it already gets the built-in levels", highlight=False)
    return ExitStatus.OK


def _levels_table(table) -> Table:
    t = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("level", "think budget", "min think", "paths", "selection", "temperature", "format", "settle", "from"):
        t.add_column(name, justify="left" if name in ("level", "selection", "format", "from") else "right")
    for name, p in table.items():
        t.add_row(name, str(p.think_budget), str(p.min_think), str(p.samples), p.selection,
                  "-" if p.temperature is None else f"{p.temperature:g}", p.reasoning_format or "-",
                  "-" if p.settle is None else f"{p.settle:g}", p.origin)
    return t


def _tuned_table(rows: list[dict]) -> Table:
    t = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("level", "strategy", "tuning", "held out", "tokens", "held out vs none"):
        t.add_column(name, justify="right" if name in ("tuning", "held out", "tokens") else "left")
    for row in rows:
        t.add_row(str(row.get("level")), str(row.get("strategy")), f"{100 * row.get('accuracy', 0):.0f}%",
                  f"{100 * row.get('held_out', 0):.0f}%", f"{row.get('tokens', 0):,.0f}",
                  str((row.get("vs_none") or {}).get("verdict", "-")))
    return t
