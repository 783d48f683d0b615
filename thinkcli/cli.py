"""The command line: parse, dispatch, and the one error boundary.

Each command builds settings and hands off to its module; ``main`` maps every
``ThinkError`` to one line on stderr and a documented exit code.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer

from thinkcli import __version__
from thinkcli.errors import ExitStatus, ThinkError, UsageError

app = typer.Typer(
    name="thinkcli",
    help="A reasoning assistant for local GGUF models: it thinks first, then answers.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"thinkcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", metavar="", help="Show tracebacks and llama.cpp's own log."),
    version: bool = typer.Option(False, "--version", metavar="", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug or _state["debug"]


def _environment():
    from thinkcli.env import Environment

    return Environment.from_process()


def _settings(env, flags: dict):
    from thinkcli.config import load_settings

    return load_settings(env=env.vars, flags=flags)


_MODEL, _EFFORT, _SAMPLING, _INPUT, _OUTPUT = "Model", "Thinking and effort", "Sampling", "Input", "Output"

_ASK_HELP = """Answer one question, thinking first.

\b
  thinkcli ask What is 12 + 7
  thinkcli ask -e high "A bat and a ball cost 1.10..."
  cat notes.md | thinkcli ask Summarize this

\b
Effort  thinking budget  paths  selection
none    0                1      -
low     256              1      -
medium  1024 (default)   1      -
high    4096             5      vote
max     8192, min 1024   8      vote, then verify
auto    1024, then 2048  2-8    adaptive vote

Flags override the config file and THINKCLI_* variables."""


@app.command(help=_ASK_HELP)
def ask(
    question: Optional[List[str]] = typer.Argument(
        None, metavar="QUESTION...", help="The question; several words are joined into one.", show_default=False
    ),
    file: List[Path] = typer.Option(
        [], "--file", "-f", metavar="FILE", rich_help_panel=_INPUT, show_default=False,
        help="Read the problem from a file (repeatable).",
    ),
    system: Optional[str] = typer.Option(None, "--system", "-s", metavar="TEXT", rich_help_panel=_INPUT, help="System prompt."),
    no_stdin: bool = typer.Option(False, "--no-stdin", metavar="", rich_help_panel=_INPUT, help="Never read standard input (for shell loops)."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", metavar="NAME", rich_help_panel=_MODEL,
        help="Catalog name, .gguf path or hf:OWNER/REPO/FILE.gguf. \\[default: smollm2-135m]",
    ),
    ctx: Optional[int] = typer.Option(
        None, "--ctx", metavar="N", rich_help_panel=_MODEL, help="Context size in tokens. \\[default: sized for the level]"
    ),
    gpu_layers: Optional[int] = typer.Option(
        None, "--gpu-layers", metavar="N", rich_help_panel=_MODEL, help="Layers on the GPU; -1 = all. \\[default: all]"
    ),
    threads: Optional[int] = typer.Option(
        None, "--threads", metavar="N", rich_help_panel=_MODEL, help="CPU threads. \\[default: the free cores]"
    ),
    no_repack: bool = typer.Option(
        False, "--no-repack", metavar="", rich_help_panel=_MODEL, help="Don't repack weights for the CPU kernels (AMX)."
    ),
    effort: Optional[str] = typer.Option(
        None, "--effort", "-e", metavar="LEVEL", rich_help_panel=_EFFORT,
        help="none, low, medium, high, max, auto, or a level from the config. \\[default: medium]",
    ),
    think_budget: Optional[int] = typer.Option(
        None, "--think-budget", metavar="N", rich_help_panel=_EFFORT, help="Thinking tokens per path. \\[default: the level's]"
    ),
    min_think: Optional[int] = typer.Option(
        None, "--min-think", metavar="N", rich_help_panel=_EFFORT, help="Thinking tokens before the model may stop."
    ),
    samples: Optional[int] = typer.Option(
        None, "--samples", metavar="N", rich_help_panel=_EFFORT, help="Paths explored in parallel (1-64)."
    ),
    no_think: bool = typer.Option(False, "--no-think", metavar="", rich_help_panel=_EFFORT, help="Answer without thinking."),
    reasoning_format: Optional[str] = typer.Option(
        None, "--reasoning-format", metavar="NAME", rich_help_panel=_EFFORT,
        help="auto, think, harmony, magistral or prompted. \\[default: auto]",
    ),
    temperature: Optional[float] = typer.Option(
        None, "--temperature", "-t", metavar="T", rich_help_panel=_SAMPLING, help="0 means greedy. \\[default: 0.6]"
    ),
    top_p: Optional[float] = typer.Option(
        None, "--top-p", metavar="P", rich_help_panel=_SAMPLING, help="Keep the likeliest tokens up to this mass. \\[default: 0.95]"
    ),
    top_k: Optional[int] = typer.Option(
        None, "--top-k", metavar="K", rich_help_panel=_SAMPLING, help="Keep the K likeliest tokens; 0 = all. \\[default: 20]"
    ),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="N", rich_help_panel=_SAMPLING, help="Sampling seed. \\[default: random]"),
    max_tokens: Optional[int] = typer.Option(
        None, "--max-tokens", metavar="N", rich_help_panel=_OUTPUT, help="Cap on answer tokens. \\[default: 2048]"
    ),
    show_thinking: bool = typer.Option(False, "--show-thinking", metavar="", rich_help_panel=_OUTPUT, help="Keep the whole reasoning on screen."),
    hide_thinking: bool = typer.Option(False, "--hide-thinking", metavar="", rich_help_panel=_OUTPUT, help="Only a spinner while it thinks."),
    json_out: bool = typer.Option(False, "--json", metavar="", rich_help_panel=_OUTPUT, help="One JSON object: answer, reasoning, stats."),
    debug: bool = typer.Option(False, "--debug", metavar="", rich_help_panel=_OUTPUT, help="Tracebacks and llama.cpp's own log."),
) -> None:
    from thinkcli.ask import Knobs, read_question, run_ask
    from thinkcli.load import open_engine

    _state["debug"] = debug or _state["debug"]
    _in_range("--think-budget", think_budget, 0)
    _in_range("--min-think", min_think, 0)
    _in_range("--samples", samples, 1, 64)
    if show_thinking and hide_thinking:
        raise UsageError("--show-thinking and --hide-thinking contradict each other")
    env = _environment()
    thinking = "show" if show_thinking else "hide" if hide_thinking else None
    flags = dict(
        model=model, effort=effort, system=system, reasoning_format=reasoning_format, temperature=temperature,
        top_p=top_p, top_k=top_k, max_tokens=max_tokens, seed=seed, ctx=ctx, gpu_layers=gpu_layers,
        threads=threads, thinking=thinking, repack="off" if no_repack else None,
    )
    settings = _settings(env, flags)
    knobs = Knobs(
        think_budget=think_budget,
        min_think=min_think,
        samples=samples,
        no_think=no_think,
        temperature_given=temperature is not None or bool(env.vars.get("THINKCLI_TEMPERATURE")),
        json=json_out,
        debug=_state["debug"],
    )
    text = read_question(env, " ".join(question or []), file, stdin=not no_stdin)

    def opener(settings, err, *, n_seq_max, debug, want_ctx=8192):
        return open_engine(settings, env.vars, err, n_seq_max=n_seq_max, debug=debug, want_ctx=want_ctx)

    with _closed_pipe_is_fine():
        status = run_ask(env, settings, knobs, text, opener)
    raise typer.Exit(int(status))


def _in_range(flag: str, value: int | None, low: int, high: int | None = None) -> None:
    if value is not None and (value < low or (high is not None and value > high)):
        span = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise UsageError(f"{flag} must be {span}, got {value}")


@app.command()
def pull(name: str = typer.Argument(..., help="A catalog name or hf:OWNER/REPO/FILE.gguf.")) -> None:
    """Download a model into the model store and verify it."""
    from thinkcli.load import model_store

    env = _environment()
    path = model_store(env.vars).pull(name, console=env.err_console())
    typer.echo(str(path))


@app.command()
def models(
    json_out: bool = typer.Option(False, "--json", metavar="", help="Print JSON."),
    catalog: bool = typer.Option(False, "--catalog", metavar="", help="List the models thinkcli can pull by name."),
) -> None:
    """List local models (or the catalog)."""
    from thinkcli.listing import print_catalog, print_models

    env = _environment()
    with _closed_pipe_is_fine():
        if catalog:
            print_catalog(env, json_out=json_out)
        else:
            print_models(env, json_out=json_out)


@app.command()
def rm(name: str = typer.Argument(..., help="A pulled model's name or hf: reference.")) -> None:
    """Delete a pulled model from the store."""
    from thinkcli.load import model_store

    env = _environment()
    path = model_store(env.vars).remove(name)
    env.err_console().print(f"removed {path}")


@contextmanager
def _closed_pipe_is_fine():
    """The reader went away (``| head -1``): stop quietly with status 0.

    Caught inside the command, because click turns a broken pipe into exit 1.
    Stdout is pointed at /dev/null so Python's final flush stays quiet too.
    """
    try:
        yield
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(int(ExitStatus.OK)) from None


def _fail(message: str, status: ExitStatus) -> int:
    try:
        print(f"thinkcli: error: {message}", file=sys.stderr)
    except (BrokenPipeError, ValueError):
        pass
    return int(status)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every failure becomes one line on stderr and an exit code."""
    _state["debug"] = bool(os.environ.get("THINKCLI_DEBUG"))
    command = typer.main.get_command(app)
    try:
        status = command.main(args=argv, prog_name="thinkcli", standalone_mode=False)
        code = int(status or 0)
    except typer.Exit as done:
        code = done.exit_code
    except SystemExit as exc:  # Rich's answer to a closed pipe while printing help
        if exc.code != 1 or not _stdout_is_devnull():
            raise
        code = int(ExitStatus.OK)
    except ThinkError as exc:
        if _state["debug"]:
            raise
        code = _fail(str(exc), exc.exit_status)
    except OSError as exc:  # a full disk, a read-only or missing directory, a denied permission
        if _state["debug"]:
            raise
        code = _fail(_os_message(exc), ExitStatus.ERROR)
    except typer.TyperException as exc:  # click's usage errors (exit_code 2) and the like
        if not exc.format_message():  # bare `thinkcli`: the help was the answer
            return _exit(0, argv)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        code = _fail(exc.format_message() + hint, ExitStatus(exc.exit_code) if exc.exit_code in (1, 2) else ExitStatus.ERROR)
    except (KeyboardInterrupt, typer.Abort):
        code = _fail("interrupted", ExitStatus.INTERRUPTED)
    return _exit(code, argv)


def _stdout_is_devnull() -> bool:
    """Whether stdout was pointed at /dev/null, as Rich does when the reader goes away."""
    try:
        here, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError):
        return False
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)


def _os_message(exc: OSError) -> str:
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = exc.filename if exc.filename is not None else None
    return f"{where}: {reason}" if where is not None else reason


def _exit(code: int, argv: list[str] | None) -> int:
    if argv is not None:  # called from Python (tests): hand the status back
        return code
    sys.exit(code)
