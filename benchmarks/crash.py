"""What the crash watcher adds to start-up.

``crash.install`` starts a small process beside the model load. Measured in fresh
processes: how long ``install`` holds up the caller (the spawn), how long the watcher
takes to come up and leave on an empty pipe (wall and CPU: the CPU is what it takes from
the model load, on a machine with cores to spare mostly nothing), and the model load it
runs beside.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from _common import model_path

from thinkcli import crash

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 15

INSTALL = """
import subprocess, time  # thinkcli has imported subprocess by then (the repack probe uses it)
from thinkcli import crash
started = time.perf_counter()
crash.install()
print((time.perf_counter() - started) * 1000)
"""

LOAD = """
import sys
from pathlib import Path
from thinkcli.engine.llama import LlamaEngine
engine = LlamaEngine(Path(sys.argv[1]), name="bench", ctx=4096, n_seq_max=1, repack=False)
print(engine.info.load_s * 1000)
engine.close()
"""


def install_ms() -> float:
    """Milliseconds ``crash.install()`` blocks its caller, in a fresh process."""
    done = subprocess.run([sys.executable, "-c", INSTALL], capture_output=True, text=True, check=True)
    return float(done.stdout)


def watcher_run() -> tuple[float, float]:
    """Wall and CPU milliseconds of a watcher that starts, finds its pipe empty, and leaves."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-S", crash.__file__, "watch"], stdin=subprocess.DEVNULL, check=True)
    wall = (time.perf_counter() - started) * 1000
    after = os.times()
    cpu = (after.children_user - before.children_user + after.children_system - before.children_system) * 1000
    return wall, cpu


def load_ms() -> float:
    done = subprocess.run([sys.executable, "-c", LOAD, str(model_path())], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    installs = [install_ms() for _ in range(RUNS)]
    watchers = [watcher_run() for _ in range(RUNS)]
    loads = [load_ms() for _ in range(3)]
    install, load = statistics.median(installs), statistics.median(loads)
    wall = statistics.median(w for w, _ in watchers)
    cpu = statistics.median(c for _, c in watchers)
    print(f"runs={RUNS}")
    print(f"install() blocks the caller : {install:6.1f} ms (median; spawn only)")
    print(f"watcher up and gone (empty) : {wall:6.1f} ms wall, {cpu:5.1f} ms CPU (median)")
    print(f"smollm2-135m model load     : {load:6.1f} ms (median of 3)")
    print(f"install / load              : {install / load:6.3f}")
    print(f"watcher CPU / load          : {cpu / load:6.3f}")


if __name__ == "__main__":
    main()
