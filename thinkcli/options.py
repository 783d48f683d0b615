"""The options ask, chat and batch share: declared once, grouped in help panels.

``@run_options()`` adds them to a command: the command declares only its own
parameters and gets the shared ones as one dict, ``run``; ``run_config`` turns that
into ``Settings`` and ``Knobs``. A default of ``None`` means "from the config".
"""

from __future__ import annotations

import functools
import inspect
import typing
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from thinkcli.errors import UsageError

MODEL, SERVER, EFFORT, SAMPLING = "Model", "Server (--backend openai)", "Thinking and effort", "Sampling"
INPUT, OUTPUT = "Input", "Output"


def opt(*names: str, panel: str, metavar: str = "", help: str = ""):
    """An option in a help panel; its default is the parameter's (``None``: from the config)."""
    return typer.Option(*names, metavar=metavar, rich_help_panel=panel, help=help, show_default=False)


System = Annotated[Optional[str], opt("--system", "-s", panel=INPUT, metavar="TEXT", help="System prompt.")]
Model = Annotated[Optional[str], opt("--model", "-m", panel=MODEL, metavar="NAME",
                  help="Catalog name, .gguf path or hf:OWNER/REPO/FILE.gguf. \\[default: smollm2-135m]")]
Ctx = Annotated[Optional[int], opt("--ctx", panel=MODEL, metavar="N", help="Context size in tokens. \\[default: sized for the level]")]
GpuLayers = Annotated[Optional[int], opt("--gpu-layers", panel=MODEL, metavar="N", help="Layers on the GPU; -1 = all. \\[default: all]")]
Threads = Annotated[Optional[int], opt("--threads", panel=MODEL, metavar="N", help="CPU threads. \\[default: the free cores]")]
NoRepack = Annotated[bool, opt("--no-repack", panel=MODEL, help="Don't repack weights for the CPU kernels (AMX).")]
ChatTemplateFile = Annotated[Optional[Path], opt("--chat-template-file", panel=MODEL, metavar="FILE",
                             help="Use this Jinja chat template instead of the model's.")]
Backend = Annotated[Optional[str], opt("--backend", panel=SERVER, metavar="NAME",
                    help="llama (here, in llama.cpp) or openai (an OpenAI-compatible server). \\[default: llama]")]
BaseUrl = Annotated[Optional[str], opt("--base-url", panel=SERVER, metavar="URL", help="The server, e.g. http://localhost:8080/v1 (implies --backend openai).")]
ApiKeyEnv = Annotated[Optional[str], opt("--api-key-env", panel=SERVER, metavar="VAR",
                      help="Environment variable holding the server's API key. \\[default: OPENAI_API_KEY]")]
Parallel = Annotated[Optional[int], opt("--parallel", panel=SERVER, metavar="N", help="Most requests in flight on a server (1-64). \\[default: 4]")]
Effort = Annotated[Optional[str], opt("--effort", "-e", panel=EFFORT, metavar="LEVEL",
                   help="none, low, medium, high, max, auto, or a level from the config. \\[default: medium]")]
ThinkBudget = Annotated[Optional[int], opt("--think-budget", panel=EFFORT, metavar="N", help="Thinking tokens per path. \\[default: the level's]")]
MinThink = Annotated[Optional[int], opt("--min-think", panel=EFFORT, metavar="N", help="Thinking tokens before the model may stop.")]
Samples = Annotated[Optional[int], opt("--samples", panel=EFFORT, metavar="N", help="Paths explored in parallel (1-64).")]
NoThink = Annotated[bool, opt("--no-think", panel=EFFORT, help="Answer without thinking.")]
ReasoningFormat = Annotated[Optional[str], opt("--reasoning-format", panel=EFFORT, metavar="NAME",
                            help="auto, think, harmony, magistral, seed, gemma4, apriel, solar, prompted or stepwise. \\[default: auto]")]
Temperature = Annotated[Optional[float], opt("--temperature", "-t", panel=SAMPLING, metavar="T", help="0 means greedy. \\[default: 0.6]")]
TopP = Annotated[Optional[float], opt("--top-p", panel=SAMPLING, metavar="P", help="Keep the likeliest tokens up to this mass. \\[default: 0.95]")]
TopK = Annotated[Optional[int], opt("--top-k", panel=SAMPLING, metavar="K", help="Keep the K likeliest tokens; 0 = all. \\[default: 20]")]
Seed = Annotated[Optional[int], opt("--seed", panel=SAMPLING, metavar="N", help="Sampling seed. \\[default: random]")]
MaxTokens = Annotated[Optional[int], opt("--max-tokens", panel=OUTPUT, metavar="N", help="Cap on answer tokens. \\[default: 2048]")]
ShowThinking = Annotated[bool, opt("--show-thinking", panel=OUTPUT, help="Keep the whole reasoning on screen.")]
HideThinking = Annotated[bool, opt("--hide-thinking", panel=OUTPUT, help="Only a spinner while it thinks.")]
Debug = Annotated[bool, opt("--debug", panel=OUTPUT, help="Tracebacks and llama.cpp's own log.")]
NoLog = Annotated[bool, opt("--no-log", panel=OUTPUT, help="Don't record this run in the log (thinkcli log).")]


# The shared options in the order --help lists them (each keeps its panel), with defaults.
SHARED: dict[str, tuple[object, object]] = {
    "system": (System, None), "model": (Model, None), "effort": (Effort, None), "think_budget": (ThinkBudget, None),
    "min_think": (MinThink, None), "samples": (Samples, None), "no_think": (NoThink, False),
    "show_thinking": (ShowThinking, False), "hide_thinking": (HideThinking, False),
    "reasoning_format": (ReasoningFormat, None), "chat_template_file": (ChatTemplateFile, None),
    "temperature": (Temperature, None), "top_p": (TopP, None), "top_k": (TopK, None), "max_tokens": (MaxTokens, None),
    "seed": (Seed, None), "ctx": (Ctx, None), "gpu_layers": (GpuLayers, None), "threads": (Threads, None),
    "backend": (Backend, None), "base_url": (BaseUrl, None), "api_key_env": (ApiKeyEnv, None),
    "parallel": (Parallel, None), "no_repack": (NoRepack, False), "no_log": (NoLog, False), "debug": (Debug, False),
}


def run_options(*, leave_out: tuple[str, ...] = ()) -> Callable:
    """Give a command the shared options, after its own, as one keyword argument ``run``.

    Args:
        leave_out: shared options the command does not take (they are passed as their
            defaults). A parameter the command declares itself replaces the shared one.
    """

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command)
        hints = typing.get_type_hints(command, include_extras=True)  # the command's own, evaluated
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in signature.parameters.values() if p.name != "run"]
        taken = {p.name for p in own}
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                 for name, (annotation, default) in SHARED.items() if name not in taken and name not in leave_out]

        @functools.wraps(command)
        def wrapper(**given):
            run = {name: given.pop(name) if name in given and name not in taken else default
                   for name, (_, default) in SHARED.items()}
            run.update({name: given[name] for name in taken if name in SHARED})
            return command(**given, run=run)

        wrapper.__signature__ = signature.replace(parameters=own + added)
        wrapper.__annotations__ = {**{p.name: p.annotation for p in own}, **{p.name: p.annotation for p in added}}
        return wrapper

    return decorate


def in_range(flag: str, value: int | None, low: int, high: int | None = None) -> None:
    if value is not None and (value < low or (high is not None and value > high)):
        span = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise UsageError(f"{flag} must be {span}, got {value}")


def run_config(env, opts: dict, *, debug: bool, json: bool = False):
    """Settings and knobs from the shared options (``opts`` holds them by parameter name)."""
    from thinkcli.config import load_settings
    from thinkcli.session import Knobs

    in_range("--think-budget", opts["think_budget"], 0)
    in_range("--min-think", opts["min_think"], 0)
    in_range("--samples", opts["samples"], 1, 64)
    in_range("--parallel", opts.get("parallel"), 1, 64)
    if opts["show_thinking"] and opts["hide_thinking"]:
        raise UsageError("--show-thinking and --hide-thinking contradict each other")
    thinking = "show" if opts["show_thinking"] else "hide" if opts["hide_thinking"] else None
    names = ("model", "effort", "system", "reasoning_format", "temperature", "top_p", "top_k", "max_tokens",
             "seed", "ctx", "gpu_layers", "threads", "backend", "base_url", "api_key_env")
    flags = {name: opts[name] for name in names}
    flags["parallel"] = opts.get("parallel")
    if opts["base_url"] and not opts["backend"]:
        flags["backend"] = "openai"  # a server named on the command line is the one to use
    template = opts["chat_template_file"]
    flags.update(thinking=thinking, repack="off" if opts["no_repack"] else None,
                 chat_template_file=str(template) if template else None)
    flags.update(log=False if opts.get("no_log") else None)
    settings = load_settings(env=env.vars, flags=flags)
    knobs = Knobs(
        think_budget=opts["think_budget"],
        min_think=opts["min_think"],
        samples=opts["samples"],
        no_think=opts["no_think"],
        temperature_given=opts["temperature"] is not None or bool(env.vars.get("THINKCLI_TEMPERATURE")),
        json=json,
        debug=debug,
        print_prompt=opts.get("print_prompt", False),
    )
    return settings, knobs
