"""``python -m thinkcli.engine.probe MODEL``: decode a few tokens with weight repacking on.

Run in a child process by ``hardware.run_probe``: on some CPUs with AMX, llama.cpp's
repacked weights crash the first multi-token decode, and only a child can die of it.
Exits 0 when the decode worked.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROMPT = "The quick brown fox jumps over the lazy dog. One, two, three, four, five."


def main(argv: list[str]) -> int:
    from thinkcli.engine import Sampling
    from thinkcli.engine.llama import LlamaEngine

    engine = LlamaEngine(Path(argv[0]), name="probe", ctx=256, threads=None, n_seq_max=2, repack=True, gpu_layers=0)
    try:
        batch = engine.start(PROMPT, n=2, sampling=Sampling(temperature=0.0), seeds=[0, 1])
        for _ in range(4):
            batch.step()
        batch.close()
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
