"""The command line: parse, dispatch, and the one error boundary.

Each command builds settings and hands off to its module; ``main`` maps every
``ThinkError`` to one line on stderr and a documented exit code.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, List, Optional


import typer

from thinkcli import __version__
from thinkcli.errors import ExitStatus, ThinkError
from thinkcli.options import INPUT, OUTPUT, ApiKeyEnv, opt, run_config, run_options

app = typer.Typer(
    name="thinkcli",
    help="A reasoning assistant for local GGUF models: it thinks first, then answers.",
    add_completion=False,
    no_args_is_help=False,  # bare `thinkcli`: chat on a terminal, help otherwise (see root)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"thinkcli {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", metavar="", help="Show tracebacks and llama.cpp's own log."),
    version: bool = typer.Option(False, "--version", metavar="", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """With no command: chat on a terminal, this help otherwise."""
    _state["debug"] = debug or _state["debug"]
    if ctx.invoked_subcommand is not None:
        return
    env = _environment()
    if not (env.stdin_isatty and env.stdout_isatty):
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    defaults = {p.name: p.default for p in typer.main.get_command(app).commands["chat"].params}
    ctx.invoke(chat, **defaults)


def _environment():
    from thinkcli.env import Environment

    return Environment.from_process()


def _settings(env, flags: dict):
    from thinkcli.config import load_settings

    return load_settings(env=env.vars, flags=flags)


def _run_config(env, opts: dict, *, json: bool = False):
    _state["debug"] = opts["debug"] or _state["debug"]
    return run_config(env, opts, debug=_state["debug"], json=json)


def _opener(env):
    """Open the engine the way every command does (looked up late, so tests can swap it)."""
    from thinkcli import load

    def opener(settings, err, *, n_seq_max, debug, want_ctx=8192):
        return load.open_engine(settings, env.vars, err, n_seq_max=n_seq_max, debug=debug, want_ctx=want_ctx)

    return opener


_ASK_HELP = """Answer one question, thinking first.

\b
  thinkcli ask What is 12 + 7
  thinkcli ask -e high "A bat and a ball cost 1.10..."
  cat notes.md | thinkcli ask Summarize this

\b
Effort  models that think natively     models that do not
        budget           paths         (direct answers)
none    0                1             1 greedy
low     256              1             3 voted
medium  1024 (default)   1             5 voted
high    4096             5, vote       9 voted
max     8192, min 1024   8, verified   16 voted
auto    1024, then 2048  2-8 adaptive  2-16 adaptive

A model tuned with thinkcli tune uses its own levels (thinkcli tune --show lists them). Flags override the config file and THINKCLI_* variables."""


@app.command(help=_ASK_HELP, epilog="More: docs/ask.md (in thinkcli's source).")
@run_options()
def ask(
    question: Optional[List[str]] = typer.Argument(
        None, metavar="QUESTION...", help="The question; several words are joined into one.", show_default=False
    ),
    file: List[Path] = typer.Option(
        [], "--file", "-f", metavar="FILE", rich_help_panel=INPUT, show_default=False,
        help="Read the problem from a file (repeatable).",
    ),
    no_stdin: Annotated[bool, opt("--no-stdin", panel=INPUT, help="Never read standard input (for shell loops).")] = False,
    print_prompt: Annotated[bool, opt("--print-prompt", panel=OUTPUT, help="Print the exact prompt that would be decoded, and exit.")] = False,
    json_out: Annotated[bool, opt("--json", panel=OUTPUT, help="One JSON object: answer, reasoning, stats.")] = False,
    *,
    run: dict,
) -> None:
    from thinkcli.ask import read_question, run_ask

    env = _environment()
    settings, knobs = _run_config(env, {**run, "print_prompt": print_prompt}, json=json_out)
    text = read_question(env, " ".join(question or []), file, stdin=not no_stdin)
    with _closed_pipe_is_fine():
        status = run_ask(env, settings, knobs, text, _opener(env))
    raise typer.Exit(int(status))


@app.command(epilog="More: docs/chat.md (in thinkcli's source).")
@run_options()
def chat(
    resume: bool = typer.Option(False, "--continue", "-c", help="Continue the last session."),
    session: Optional[str] = typer.Option(None, "--session", help="Continue (or start) the session NAME."),
    *,
    run: dict,
) -> None:
    """Hold a conversation: the model stays loaded, each turn thinks, then answers."""
    from thinkcli.chat.repl import run_chat

    env = _environment()
    settings, knobs = _run_config(env, run)
    with _closed_pipe_is_fine():
        status = run_chat(env, settings, knobs, _opener(env), resume=resume, name=session)
    raise typer.Exit(int(status))


@app.command(epilog="More: docs/batch.md (in thinkcli's source).")
@run_options(leave_out=("show_thinking", "hide_thinking"))
def batch(
    source: str = typer.Argument(..., metavar="FILE", help="Problems: JSONL records or one per line of text; - for stdin."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results here (resumed if it exists)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start the output file over instead of resuming it."),
    fmt: Optional[str] = typer.Option(None, "--format", help="jsonl or text (default: from the extension)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Solve only the first N problems."),
    show_reasoning: bool = typer.Option(False, "--show-reasoning", help="Put each answer's reasoning in its record."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Save the scaling curve as .png or .svg (needs matplotlib)."),
    report: Optional[Path] = typer.Option(None, "--report", metavar="FILE.html", help="Write the effort table, the accuracy-against-tokens curve and every problem's result at each level (with its run's paths) as one self-contained HTML page."),
    json_out: bool = typer.Option(False, "--json", help="Print the effort summary as JSON."),
    parallel: Optional[int] = typer.Option(None, "--parallel", min=1, max=16, help="Problems decoded at once (default: as many as keep every path's budget, up to 4); on a server, also the most requests in flight."),
    *,
    run: dict,
) -> None:
    """Solve a file of problems; with --effort a,b,c compare the levels."""
    from thinkcli.batch import BatchOptions, parse_levels, run_batch_command

    env = _environment()
    settings, knobs = _run_config(env, run)
    levels = parse_levels(run["effort"], settings)
    batch_opts = BatchOptions(source, fmt=fmt, output=output, overwrite=overwrite, limit=limit,
                              show_reasoning=show_reasoning, json=json_out, plot=plot, parallel=parallel,
                              report=report)
    with _closed_pipe_is_fine():
        status = run_batch_command(env, settings, knobs, levels, batch_opts, _opener(env))
    raise typer.Exit(int(status))


_TUNE_HELP = """Measure what each way of spending compute buys on this model, and set its levels.

Runs a grid of strategies on a graded problem file (direct answers, greedy and voted; thinking under small to large budgets, one path and several; thinking in two stages; verification), draws the accuracy-against-tokens frontier, chooses none, low, medium, high, max and auto on it, and saves them as the model's profile: ask, chat and batch use it whenever the model is loaded.

\b
  thinkcli tune                                  # the mixed set thinkcli ships
  thinkcli tune my-problems.jsonl -m qwen3-1.7b  # your own problems: better
  thinkcli tune --show                           # the levels and their source
  thinkcli tune --reset                          # back to the built-in levels

FILE is a graded problem file as batch reads it (JSONL with "question" and "answer"), or a set thinkcli ships: mixed, arithmetic, facts, logic (each has a -heldout twin that tuning never sees, to check the levels with batch). Measurements are kept: after Ctrl-C, the same command goes on where it stopped."""


@app.command(help=_TUNE_HELP, epilog="More: docs/tune.md (in thinkcli's source).")
@run_options(leave_out=("effort", "think_budget", "min_think", "samples", "no_think", "show_thinking",
                         "hide_thinking", "no_log"))
def tune(
    source: Optional[str] = typer.Argument(None, metavar="[FILE]", help="Graded problems, or a shipped set's name. \\[default: mixed]", show_default=False),
    show: bool = typer.Option(False, "--show", help="Print the model's levels and where they came from (built in, tuned, the config file), and exit."),
    reset: bool = typer.Option(False, "--reset", help="Forget the model's profile: it gets the built-in levels again."),
    limit: Optional[int] = typer.Option(None, "--limit", min=4, help="Use only the first N problems."),
    folds: int = typer.Option(5, "--folds", min=2, max=20, help="Cross-validation folds for the held-out accuracy."),
    budgets: str = typer.Option("128,512,2048", "--budgets", metavar="LIST", help="Thinking budgets to measure, small to large."),
    paths: int = typer.Option(16, "--paths", min=1, max=64, help="Direct answers per problem (votes over 1 to N of them are replayed)."),
    think_paths: int = typer.Option(4, "--think-paths", min=1, max=16, help="Thinking paths per problem and budget."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Save the frontier as .png or .svg (needs matplotlib)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result (or --show) as JSON."),
    no_save: bool = typer.Option(False, "--no-save", help="Measure and report, but leave the profile as it is."),
    fresh: bool = typer.Option(False, "--fresh", help="Forget this model's kept measurements and measure again."),
    *,
    run: dict,
) -> None:
    from thinkcli.errors import UsageError
    from thinkcli.tune.command import TuneOptions, run_tune
    from thinkcli.tune.show import reset_profile, show_levels

    env = _environment()
    settings, knobs = _run_config(env, {**run, "no_log": True})
    if show and reset:
        raise UsageError("--show and --reset: choose one")
    with _closed_pipe_is_fine():
        if show:
            raise typer.Exit(int(show_levels(env, settings, json_out=json_out)))
        if reset:
            raise typer.Exit(int(reset_profile(env, settings)))
        try:
            chosen = tuple(sorted({int(b) for b in budgets.split(",") if b.strip()}))
        except ValueError:
            raise UsageError(f"--budgets takes whole numbers separated by commas, got {budgets!r}") from None
        if any(b < 16 for b in chosen):
            raise UsageError(f"--budgets: every budget must be at least 16 tokens, got {budgets!r}")
        tune_opts = TuneOptions(source or "mixed", limit=limit, folds=folds, budgets=chosen, direct_paths=paths,
                                think_paths=think_paths, plot=plot, json=json_out, save=not no_save, fresh=fresh)
        status = run_tune(env, settings, knobs, tune_opts, _opener(env))
    raise typer.Exit(int(status))


@app.command(epilog="More: docs/configuration.md (in thinkcli's source).")
def pull(name: str = typer.Argument(..., help="A catalog name or hf:OWNER/REPO/FILE.gguf.")) -> None:
    """Download a model into the model store and verify it."""
    from thinkcli.load import model_store

    env = _environment()
    path = model_store(env.vars).pull(name, console=env.err_console())
    typer.echo(str(path))


@app.command(epilog="More: docs/configuration.md (in thinkcli's source).")
def models(
    json_out: bool = typer.Option(False, "--json", metavar="", help="Print JSON."),
    catalog: bool = typer.Option(False, "--catalog", metavar="", help="List the models thinkcli can pull by name."),
    base_url: Annotated[Optional[str], typer.Option("--base-url", metavar="URL", help="List what this OpenAI-compatible server offers.")] = None,
    api_key_env: ApiKeyEnv = None,
) -> None:
    """List local models (or the catalog, or a server's models)."""
    from thinkcli.listing import print_catalog, print_models, print_served

    env = _environment()
    with _closed_pipe_is_fine():
        if base_url:
            print_served(env, _settings(env, {"base_url": base_url, "api_key_env": api_key_env}), json_out=json_out)
        elif catalog:
            print_catalog(env, json_out=json_out)
        else:
            print_models(env, json_out=json_out)


@app.command(epilog="More: docs/configuration.md (in thinkcli's source).")
def rm(name: str = typer.Argument(..., help="A pulled model's name or hf: reference.")) -> None:
    """Delete a pulled model from the store."""
    from thinkcli.load import model_store

    env = _environment()
    path = model_store(env.vars).remove(name)
    env.err_console().print(f"removed {path}")


@app.command(epilog="More: docs/log.md (in thinkcli's source).")
def trace(
    run_id: Optional[int] = typer.Argument(None, metavar="ID", help="A run's id (thinkcli log lists them); default: the last run.", show_default=False),
    path: Optional[int] = typer.Option(None, "--path", metavar="N", help="Only path N's reasoning.", show_default=False),
    confidence: bool = typer.Option(False, "--confidence", metavar="", help="Shade every token of the reasoning and answer by the model's confidence; the lowest window, which set the path's weight, is underlined (between [[ ]] when piped)."),
    html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", help="Write the run as one self-contained HTML page: every path with its confidence curve, the vote, the plan and the stats.", show_default=False),
) -> None:
    """Print a recorded run's full reasoning, every path headed by its number; or shade it, or write it as a page."""
    from thinkcli.runlog.commands import run_trace

    with _closed_pipe_is_fine():
        raise typer.Exit(int(run_trace(_environment(), run_id, path, confidence=confidence, html=html)))


@app.command(epilog="More: docs/log.md (in thinkcli's source).")
def log(
    run_id: Optional[int] = typer.Argument(None, metavar="ID", help="Show this run whole.", show_default=False),
    limit: int = typer.Option(20, "-n", metavar="N", help="How many runs to list."),
    query: Optional[str] = typer.Option(None, "--query", "-q", metavar="TEXT", help="Only runs whose question or answer has these words.", show_default=False),
    json_out: bool = typer.Option(False, "--json", metavar="", help="Print the records as JSON."),
    clear: bool = typer.Option(False, "--clear", metavar="", help="Delete every recorded run and chat session."),
    yes: bool = typer.Option(False, "--yes", "-y", metavar="", help="With --clear: don't ask."),
) -> None:
    """List recorded runs newest first, search them, or show one whole."""
    from thinkcli.runlog.commands import clear_log, run_log

    env = _environment()
    with _closed_pipe_is_fine():
        if clear:
            raise typer.Exit(int(clear_log(env, yes=yes)))
        raise typer.Exit(int(run_log(env, limit=limit, query=query, json_out=json_out, run_id=run_id)))


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
    return f"{exc.filename}: {reason}" if exc.filename is not None else reason


def _exit(code: int, argv: list[str] | None) -> int:
    if argv is not None:  # called from Python (tests): hand the status back
        return code
    sys.exit(code)
