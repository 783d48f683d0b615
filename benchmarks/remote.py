"""The same runs on the local engine and through servers on loopback, side by side.

llama.cpp's llama-server (4 slots, continuous batching; built by `.ci/llama-server`)
and, with `--both`, llama-cpp-python's server (one request at a time) serve the
default model. Three workloads, each locally and through each server, interleaved,
medians of RUNS:

- `ask -e high` on one question (5 paths: concurrent requests on a server);
- `batch -e low` over N problems of problems.jsonl (`--parallel 4`);
- `batch -e none` over the same problems.

Per row: answers given (non-empty), vote weights, tokens generated, prompt tokens the
server took from its cache (`cache_n`), wall time, and the server/local ratio (the
ceiling: 1.25x). Every level is pinned to the reasoning models' table (budget-forced
thinking), so the thinking paths are what goes through the server. The same seed locally and remotely: the server's sampler draws
other random numbers, so tokens differ.

    python benchmarks/remote.py [RUNS] [N] [--both]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from llama_server import find_llama_server, llama_cpp_server, llama_server  # noqa: E402

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
RUNS = int(ARGS[0]) if ARGS else 3
N = int(ARGS[1]) if len(ARGS) > 1 else 8
QUESTION = "A farmer has 17 sheep and buys 5 more, then sells 8. How many sheep are left?"


def thinkcli(*args: str, config: Path) -> tuple[float, list[dict]]:
    """Wall time and the JSON documents (ask) or records (batch) of one command."""
    env = {**os.environ, "THINKCLI_LOG": "false", "THINKCLI_CONFIG": str(config)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "thinkcli", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    if args[0] == "ask":
        return wall, [json.loads(done.stdout)]
    return wall, [json.loads(line) for line in Path(args[args.index("-o") + 1]).read_text().splitlines()]


def workloads(tmp: Path) -> dict[str, list[str]]:
    problems = tmp / "problems.jsonl"
    problems.write_text("\n".join((HERE / "problems.jsonl").read_text().splitlines()[:N]) + "\n")
    batch = ["batch", str(problems), "--overwrite", "--seed", "7", "--parallel", "4"]
    return {
        "ask -e high": ["ask", "--json", "-e", "high", "--seed", "7", QUESTION],
        f"batch -e low ({N})": [*batch, "-e", "low", "-o", str(tmp / "low.jsonl")],
        f"batch -e none ({N})": [*batch, "-e", "none", "-o", str(tmp / "none.jsonl")],
    }


def summary(docs: list[dict]) -> dict:
    answered = sum(bool((d.get("answer") or "").strip()) for d in docs)
    stats = [d["stats"] for d in docs if "stats" in d]
    weights = {d.get("vote_weights") for d in docs if "vote_weights" in d}
    return {"answered": f"{answered}/{len(docs)}", "weights": ",".join(sorted(w for w in weights if w)) or "-",
            "tokens": sum(s["generated_tokens"] for s in stats), "cached": sum(s.get("cached_tokens", 0) for s in stats)}


def main() -> None:
    from _common import model_path
    from levels import reasoning_config

    binary = find_llama_server()
    if binary is None:
        sys.exit("no llama-server binary: run .ci/llama-server first (or set THINKCLI_LLAMA_SERVER)")
    servers = [("llama-server", lambda: llama_cpp_server(model_path(), binary=binary))]
    if "--both" in sys.argv:
        servers.append(("llama-cpp-python", lambda: llama_server(model_path())))
    with tempfile.TemporaryDirectory() as tmp:
        work = workloads(Path(tmp))
        config = Path(tmp) / "reasoning.toml"  # every level thinks, as on a reasoning model
        reasoning_config(config)
        rows: dict[tuple[str, str], list] = {}
        for name, start in servers:
            with start() as url:
                for label, args in work.items():
                    for _ in range(RUNS):  # interleaved: local, then the server
                        for engine, extra in (("local", []), (name, ["--base-url", url])):
                            rows.setdefault((label, engine), []).append(thinkcli(*args, *extra, config=config))
    print(f"default model, seed 7, {RUNS} runs each (medians), {N} problems from problems.jsonl")
    print(f"{'workload':<22} {'engine':<17} {'answered':>9} {'weights':>11} {'tokens':>7} {'cache_n':>8} "
          f"{'wall s':>7} {'vs local':>9}")
    for (label, engine), runs in rows.items():
        wall = statistics.median(w for w, _ in runs)
        local = statistics.median(w for w, _ in rows[(label, "local")])
        last = summary(runs[-1][1])
        ratio = "" if engine == "local" else f"{wall / local:.2f}x"
        print(f"{label:<22} {engine:<17} {last['answered']:>9} {last['weights']:>11} {last['tokens']:>7} "
              f"{last['cached']:>8} {wall:7.1f} {ratio:>9}")


if __name__ == "__main__":
    main()
