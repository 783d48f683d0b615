"""The same problems on the local engine and through an OpenAI-compatible server.

Starts llama-cpp-python's server on loopback with the default model, runs
`thinkcli batch` on the first N problems of `problems.jsonl` (default 10) at one
effort level (default high) with the same seed, locally and with `--base-url`,
and prints wall time, tokens and accuracy for each, and which capabilities the
server mapped natively. llama-cpp-python's server decodes one request at a time,
so parallel paths run one after another there: the ratio is that server's, not
the remote engine's ceiling (llama-server and vLLM batch concurrent requests).

    python benchmarks/remote.py [N] [EFFORT]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from llama_server import llama_server  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10
EFFORT = sys.argv[2] if len(sys.argv) > 2 else "high"


def run_batch(problems: Path, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "thinkcli", "batch", str(problems), "-o", str(out), "--overwrite",
           "-e", EFFORT, "--seed", "7", *extra]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=dict(os.environ))
    wall = time.perf_counter() - started
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    tokens = sum(r["stats"]["generated_tokens"] for r in records if "stats" in r)
    correct = sum(bool(r.get("correct")) for r in records)
    return {"wall_s": wall, "tokens": tokens, "correct": correct, "records": len(records)}


def capabilities(url: str) -> dict:
    from thinkcli.engine.remote import RemoteEngine
    from thinkcli.engine.remote.client import Client
    from thinkcli.models.gguf import read_gguf
    from _common import model_path

    engine = RemoteEngine(Client(url), "smollm2-135m", local_template=lambda: read_gguf(model_path()).chat_template)
    engine.count_tokens("probe")
    caps = dict(engine.capabilities)
    engine.close()
    return caps


def main() -> None:
    sys.path.insert(0, str(HERE))
    from _common import model_path

    lines = (HERE / "problems.jsonl").read_text().splitlines()[:N]
    with tempfile.TemporaryDirectory() as tmp:
        problems = Path(tmp) / "problems.jsonl"
        problems.write_text("\n".join(lines) + "\n")
        local = run_batch(problems, Path(tmp) / "local.jsonl", [])
        with llama_server(model_path()) as url:
            remote = run_batch(problems, Path(tmp) / "remote.jsonl", ["--base-url", url])
            caps = capabilities(url)
    print(f"{N} problems at effort {EFFORT}, seed 7, default model")
    print(f"{'engine':<10} {'wall s':>8} {'tokens':>8} {'tok/s':>7} {'correct':>8}")
    for name, r in (("local", local), ("server", remote)):
        print(f"{name:<10} {r['wall_s']:8.1f} {r['tokens']:8d} {r['tokens'] / r['wall_s']:7.1f} {r['correct']:5d}/{r['records']}")
    print(f"server / local wall time: {remote['wall_s'] / local['wall_s']:.2f}x")
    for what, how in caps.items():
        print(f"  {what}: {how}")


if __name__ == "__main__":
    main()
