"""Fit llama.cpp to the machine: how many threads, and whether weights may be repacked.

Nothing here imports llama.cpp: the facts (the build's system info, ``/proc``) come in
as text, so every branch can be tested on any machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

CACHE_ENV = "THINKCLI_CACHE"  # where machine facts such as probe results are kept
PROBE_TIMEOUT_S = 300  # loading a large model from a cold disk is slow
MIN_WINDOW_S = 0.15  # shortest window that tells a busy core from an idle one at 100 ticks/s
RECHECK_S = 2.0  # how often a long decode looks at the load again
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class Choice:
    """A decision and its reason, for ``--debug``."""

    value: object
    why: str


# -- repacking ------------------------------------------------------------------


def has_amx(system_info: str) -> bool:
    """Whether llama.cpp's CPU backend was built with AMX kernels (``AMX_INT8 = 1``)."""
    return "AMX_INT8 = 1" in system_info


def choose_repack(
    setting: str, system_info: str, *, memory: Path, key: str, probe: Callable[[], int | None]
) -> Choice:
    """Decide ``use_extra_bufts`` (llama.cpp's weight repacking, AMX included).

    ``auto`` turns repacking off only where it can crash: on a build with AMX kernels, a
    child process first decodes with repacking on; if it dies by a signal, repacking stays
    off on this machine for good (remembered in ``memory`` under ``key``).

    Args:
        setting: ``auto``, ``on`` or ``off``.
        system_info: ``llama_print_system_info()`` of the build.
        memory: the JSON file of earlier probe results.
        key: this build, CPU and model, as ``probe_key`` makes it.
        probe: runs the child; returns its exit status (negative: killed by that signal),
            or None if it could not finish.
    """
    if setting in ("on", "off"):
        return Choice(setting == "on", f"repack = {setting} was set")
    if not has_amx(system_info):
        return Choice(True, "this llama.cpp build has no AMX kernels")
    known = _recall(memory).get(key)
    if known is not None:
        return Choice(known["repack"], f"{known['why']} (remembered in {memory})")
    status = probe()
    if status is None or status > 0:
        return Choice(False, f"the AMX probe did not finish (status {status}); repacking off for this run")
    if status < 0:
        why = f"a decode with AMX repacking died by signal {-status} in a probe"
        _remember(memory, key, False, why)
        return Choice(False, why)
    why = "a decode with AMX repacking passed a probe"
    _remember(memory, key, True, why)
    return Choice(True, why)


def memory_path(env: Mapping[str, str] = os.environ) -> Path:
    """The file of remembered probe results: a fact about this machine, so it lives in the
    user cache directory (``$THINKCLI_CACHE`` moves it), not with one user's data."""
    named = env.get(CACHE_ENV)
    base = Path(named).expanduser() if named else platformdirs.user_cache_path("thinkcli", appauthor=False)
    return base / "hardware.json"


def probe_key(system_info: str, build: str, model: Path) -> str:
    """What a probe result holds for: the build, this CPU and the model file."""
    try:
        size = model.stat().st_size
    except OSError:
        size = -1
    return f"{build}|{cpu_name()}|{' '.join(sorted(system_info.split()))}|{model.name}:{size}"


def run_probe(model: Path, *, timeout: float = PROBE_TIMEOUT_S) -> int | None:
    """Decode a short prompt on ``model`` with repacking on, in a child process."""
    cmd = [sys.executable, "-m", "thinkcli.engine.probe", str(model)]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode


def _recall(memory: Path) -> dict:
    try:
        data = json.loads(memory.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(memory: Path, key: str, repack: bool, why: str) -> None:
    """Add one result, atomically; a store that cannot be written only costs a probe next time."""
    data = _recall(memory)
    data[key] = {"repack": repack, "why": why, "at": time.strftime("%Y-%m-%d")}
    try:
        memory.parent.mkdir(parents=True, exist_ok=True)
        part = memory.with_name(f".{memory.name}.{os.getpid()}")
        part.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(part, memory)
    except OSError:
        pass


def cpu_name() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


# -- threads ----------------------------------------------------------------------


def usable_cpus() -> set[int]:
    """The logical CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int], sys_cpu: Path = Path("/sys/devices/system/cpu")) -> int:
    """How many physical cores ``cpus`` spans: hyperthread siblings share one core's units."""
    cores = set()
    for cpu in cpus:
        try:
            cores.add((sys_cpu / f"cpu{cpu}" / "topology" / "thread_siblings_list").read_text().strip())
        except OSError:
            return len(cpus)
    return max(1, len(cores))


def read_cpu_ticks(cpus: set[int], stat: Path = Path("/proc/stat")) -> tuple[int, int] | None:
    """(busy, total) clock ticks of ``cpus`` since boot, or None without /proc/stat."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    busy = total = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        fields = [int(x) for x in rest.split()]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        work = sum(fields[:8])  # guest time is already inside user time
        busy += work - idle
        total += work
    return busy, total


def own_ticks() -> float:
    """CPU time this process (all its threads) has used, in clock ticks."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * _TICKS


class ThreadChooser:
    """Picks llama.cpp's thread count from the cores that other processes leave free.

    llama.cpp's workers spin while they wait for each other, so one thread on a core that
    another process also wants stalls every step: use the physical cores minus what the
    rest of the machine is using, measured over a window (the model load, the time between
    two turns, or ``RECHECK_S`` of decoding).

    Args:
        read_ticks: returns (busy, total) ticks of the usable CPUs; injected by tests.
        own: returns this process's own ticks; injected by tests.
        cores: physical cores available; None = measured.
        logical: logical CPUs the ticks cover; None = counted.
        clock: seconds, monotonic; injected by tests.
    """

    def __init__(
        self, *, read_ticks=None, own=own_ticks, cores: int | None = None, logical: int | None = None,
        clock=time.monotonic,
    ) -> None:
        cpus = usable_cpus()
        self.cores = cores or physical_cores(cpus)
        self.logical = logical or len(cpus)
        self._read = read_ticks or (lambda: read_cpu_ticks(cpus))
        self._own = own
        self._clock = clock
        self._mark = self._snapshot()
        self.last = Choice(self.cores, "no measurement yet")

    def _snapshot(self):
        return self._clock(), self._read(), self._own()

    def due(self) -> bool:
        """A long enough window has passed to measure again during a decode."""
        return self._clock() - self._mark[0] >= RECHECK_S

    def choose(self, *, wait: bool = False) -> Choice:
        """Threads to use now; ``wait`` sleeps out a window too short to measure."""
        started, before, own_before = self._mark
        if self._clock() - started < MIN_WINDOW_S:
            if not wait:
                return self.last  # too short to tell: keep the last choice and the window open
            time.sleep(MIN_WINDOW_S - (self._clock() - started))
        now, after, own_after = self._mark = self._snapshot()
        if before is None or after is None:
            self.last = Choice(self.cores, f"{self.cores} physical cores (no /proc/stat to measure the load)")
            return self.last
        total = after[1] - before[1]
        if total <= 0:
            return self.last
        others = max(0.0, (after[0] - before[0]) - (own_after - own_before)) / total * self.logical
        busy = int(others + 0.5)  # a core more than half taken is not ours to spin on
        threads = max(1, self.cores - busy)
        self.last = Choice(
            threads,
            f"{self.cores} physical cores, other processes busy on {others:.1f} of {self.logical} "
            f"logical CPUs over {now - started:.2f}s",
        )
        return self.last
