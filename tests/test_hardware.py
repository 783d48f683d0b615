"""Fitting llama.cpp to the machine: the repack decision, the AMX probe, thread counts, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from thinkcli import crash
from thinkcli.engine import hardware
from thinkcli.engine.hardware import ThreadChooser, choose_repack

AMX_BUILD = "CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 1 | OPENMP = 1 | REPACK = 1 |"
PLAIN_BUILD = "CPU : SSE3 = 1 | AVX2 = 1 | OPENMP = 1 | REPACK = 1 |"


def _never(*_):
    raise AssertionError("the probe must not run")


# -- repacking --------------------------------------------------------------------


@pytest.mark.parametrize("setting, expected", [("on", True), ("off", False)])
def test_an_explicit_setting_wins(tmp_path, setting, expected):
    choice = choose_repack(setting, AMX_BUILD, memory=tmp_path / "m.json", key="k", probe=_never)
    assert choice.value is expected and setting in choice.why


def test_a_build_without_amx_repacks_without_a_probe(tmp_path):
    choice = choose_repack("auto", PLAIN_BUILD, memory=tmp_path / "m.json", key="k", probe=_never)
    assert choice.value is True and "no AMX" in choice.why
    assert not (tmp_path / "m.json").exists()


def test_a_probe_that_dies_turns_repacking_off_for_good(tmp_path):
    memory = tmp_path / "data" / "hardware.json"
    calls = []
    choice = choose_repack("auto", AMX_BUILD, memory=memory, key="k", probe=lambda: calls.append(1) or -11)
    assert choice.value is False and "signal 11" in choice.why
    again = choose_repack("auto", AMX_BUILD, memory=memory, key="k", probe=_never)
    assert again.value is False and "remembered" in again.why and calls == [1]
    assert json.loads(memory.read_text())["k"]["repack"] is False


def test_a_probe_that_passes_keeps_repacking(tmp_path):
    memory = tmp_path / "hardware.json"
    assert choose_repack("auto", AMX_BUILD, memory=memory, key="k", probe=lambda: 0).value is True
    assert choose_repack("auto", AMX_BUILD, memory=memory, key="k", probe=_never).value is True
    # Another build, CPU or model is probed again.
    assert choose_repack("auto", AMX_BUILD, memory=memory, key="other", probe=lambda: -11).value is False


@pytest.mark.parametrize("status", [None, 1])
def test_a_probe_that_cannot_finish_is_safe_and_not_remembered(tmp_path, status):
    memory = tmp_path / "hardware.json"
    assert choose_repack("auto", AMX_BUILD, memory=memory, key="k", probe=lambda: status).value is False
    assert not memory.exists()


def test_a_broken_memory_file_is_probed_again(tmp_path):
    memory = tmp_path / "hardware.json"
    memory.write_text("{not json")
    assert choose_repack("auto", AMX_BUILD, memory=memory, key="k", probe=lambda: -11).value is False
    assert json.loads(memory.read_text())["k"]["repack"] is False


def test_the_probe_reports_a_child_killed_by_a_signal(tmp_path, monkeypatch):
    # A child that really receives SIGSEGV, standing in for llama.cpp's AMX crash.
    crasher = tmp_path / "crasher.py"
    crasher.write_text("import ctypes\nctypes.string_at(0)\n")
    monkeypatch.setattr(hardware.sys, "executable", sys.executable)
    real_run = subprocess.run
    monkeypatch.setattr(hardware.subprocess, "run", lambda cmd, **kw: real_run([sys.executable, str(crasher)], **kw))
    status = hardware.run_probe(tmp_path / "model.gguf")
    assert status == -signal.SIGSEGV
    choice = choose_repack("auto", AMX_BUILD, memory=tmp_path / "m.json", key="k",
                           probe=lambda: hardware.run_probe(tmp_path / "model.gguf"))
    assert choice.value is False


def test_probe_keys_name_the_build_cpu_and_model(tmp_path):
    model = tmp_path / "a.gguf"
    model.write_bytes(b"x" * 10)
    key = hardware.probe_key(AMX_BUILD, "0.3.36", model)
    assert "0.3.36" in key and "a.gguf:10" in key
    assert key != hardware.probe_key(PLAIN_BUILD, "0.3.36", model)


def test_probe_results_are_kept_in_the_cache_directory(tmp_path):
    # A fact about the machine, not about one user's data: THINKCLI_HOME does not move it.
    assert hardware.memory_path({"THINKCLI_CACHE": str(tmp_path)}) == tmp_path / "hardware.json"
    assert hardware.memory_path({"THINKCLI_HOME": str(tmp_path)}).parent != tmp_path


# -- every way of making an engine gets the decision --------------------------------
# The three kinds of machine: the build has no AMX kernels; it has them and they work;
# it has them and they crash. Each is faked here, on any CPU, through what llama.cpp
# reports and what the probe child returns; the real CPU's own case runs below.


@pytest.mark.model
@pytest.mark.parametrize("build, status, repack", [
    (PLAIN_BUILD, None, True),  # no AMX kernels: repack, no probe
    (AMX_BUILD, 0, True),  # AMX kernels that work: the probe passes
    (AMX_BUILD, -signal.SIGSEGV, False),  # AMX kernels that crash: the probe dies
])
def test_an_engine_made_directly_decides_as_the_cli_does(model_path, tmp_path, monkeypatch, build, status, repack):
    from thinkcli.engine import llama

    monkeypatch.setenv("THINKCLI_CACHE", str(tmp_path))
    monkeypatch.setattr(llama, "system_info", lambda: build)
    probed = []
    monkeypatch.setattr(hardware, "run_probe", lambda path: probed.append(path) or status)
    notes = []
    # Loading is safe with repacking on: only a decode would crash, and none runs here.
    engine = llama.LlamaEngine(model_path, name="m", ctx=256, threads=1, n_seq_max=1, note=notes.append)
    engine.close()
    assert engine.repack_choice.value is repack
    assert probed == ([] if build == PLAIN_BUILD else [model_path])
    assert notes == ([] if build == PLAIN_BUILD else [llama.PROBE_NOTE])
    # A second engine remembers the answer instead of probing again.
    llama.LlamaEngine(model_path, name="m", ctx=256, threads=1, n_seq_max=1, note=notes.append).close()
    assert len(probed) == (0 if build == PLAIN_BUILD else 1)


@pytest.mark.model
def test_an_engine_made_with_defaults_decodes_on_this_machine(model_path, tmp_path):
    # This CPU's own case, for real: in a child with an empty cache (so a probe runs where
    # the build has AMX kernels), the default engine decodes. On a CPU whose AMX kernels
    # crash, this is the test that would die by SIGSEGV if the decision were skipped.
    code = (
        "import sys\nfrom pathlib import Path\nfrom thinkcli.engine import Sampling\n"
        "from thinkcli.engine.llama import LlamaEngine\n"
        "e = LlamaEngine(Path(sys.argv[1]), name='m', ctx=512, n_seq_max=2)\n"
        "b = e.start('One, two, three,', n=2, sampling=Sampling(temperature=0.0), seeds=[0, 1])\n"
        "print(sum(len(b.step()) for _ in range(4)), e.repack_choice.value)\n"
    )
    env = {**os.environ, "THINKCLI_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code, str(model_path)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=Path(crash.__file__).parents[1])
    assert done.returncode == 0, done.stderr
    tokens, repacked = done.stdout.split()
    assert tokens == "8"
    from thinkcli.engine import llama

    remembered = json.loads((tmp_path / "hardware.json").read_text()) if (tmp_path / "hardware.json").exists() else {}
    if hardware.has_amx(llama.system_info()):
        assert [v["repack"] for v in remembered.values()] == [repacked == "True"]
    else:
        assert remembered == {} and repacked == "True"


@pytest.mark.model
def test_the_probe_passes_wherever_the_build_has_no_amx_kernels(model_path):
    from thinkcli.engine import llama

    status = hardware.run_probe(model_path)
    if hardware.has_amx(llama.system_info()):
        assert status == 0 or status < 0  # it finished: passed, or found the crash
    else:
        assert status == 0


# -- threads ----------------------------------------------------------------------


class Ticks:
    """A fake /proc/stat and getrusage: advance time, others' work and our own work."""

    def __init__(self, cpus: int) -> None:
        self.cpus, self.t, self.busy, self.total, self.own = cpus, 0.0, 0, 0, 0.0

    def run(self, seconds: float, *, others: float, ours: float = 0.0) -> None:
        ticks = seconds * 100
        self.t += seconds
        self.total += int(ticks * self.cpus)
        self.busy += int(ticks * (others + ours))
        self.own += ticks * ours


def chooser(ticks: Ticks, cores: int) -> ThreadChooser:
    return ThreadChooser(read_ticks=lambda: (ticks.busy, ticks.total), own=lambda: ticks.own,
                         cores=cores, logical=ticks.cpus, clock=lambda: ticks.t)


def test_an_idle_machine_gets_every_physical_core():
    ticks = Ticks(2)
    c = chooser(ticks, 2)
    ticks.run(0.3, others=0.05, ours=1.0)  # loading the model keeps one core busy: ours
    choice = c.choose(wait=True)
    assert choice.value == 2 and "physical cores" in choice.why


def test_a_busy_core_is_left_to_its_process():
    ticks = Ticks(2)
    c = chooser(ticks, 2)
    ticks.run(0.3, others=1.0, ours=0.8)
    assert c.choose(wait=True).value == 1
    ticks.run(2.5, others=0.0, ours=1.0)  # the other process ended: take the core back
    assert c.due() and c.choose().value == 2


def test_the_choice_never_drops_below_one_thread():
    ticks = Ticks(4)
    c = chooser(ticks, 4)
    ticks.run(1.0, others=4.0)
    assert c.choose().value == 1


def test_a_window_too_short_keeps_the_last_choice():
    ticks = Ticks(2)
    c = chooser(ticks, 2)
    ticks.run(0.3, others=0.0)
    assert c.choose().value == 2
    ticks.run(0.01, others=2.0)  # a blip of 10 ms says nothing
    assert c.choose().value == 2 and not c.due()


def test_without_proc_stat_all_physical_cores_are_used():
    c = ThreadChooser(read_ticks=lambda: None, own=lambda: 0.0, cores=3, clock=lambda: 10.0)
    assert c.choose().value == 3


def test_physical_cores_count_hyperthread_siblings_once(tmp_path):
    for cpu, siblings in enumerate(["0,2", "1,3", "0,2", "1,3"]):
        topo = tmp_path / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "thread_siblings_list").write_text(siblings + "\n")
    assert hardware.physical_cores({0, 1, 2, 3}, tmp_path) == 2
    assert hardware.physical_cores({0, 1}, tmp_path) == 2
    assert hardware.physical_cores({0, 2}, tmp_path) == 1


def test_proc_stat_is_read_for_the_usable_cpus_only(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  300 0 100 1000 0 0 0 0 0 0\n"
        "cpu0 100 0 50 500 10 0 0 0 0 0\n"
        "cpu1 200 0 50 500 0 0 0 0 0 0\n"
        "intr 1 2 3\n"
    )
    assert hardware.read_cpu_ticks({0}, stat) == (150, 660)
    assert hardware.read_cpu_ticks({0, 1}, stat) == (400, 1410)
    assert hardware.read_cpu_ticks({0}, tmp_path / "missing") is None


# -- a crash leaves a word ----------------------------------------------------------


def _crash(code: str, *, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Run ``code`` in a child python that imports this tree; stderr is waited for to its end,
    which is also the end of the watcher (it holds the same stderr)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          cwd=Path(crash.__file__).parents[1], **kw)


@pytest.mark.parametrize("how", ["fault", "signal"])
def test_a_fatal_signal_leaves_one_line_naming_the_cause(how):
    code = (
        "from thinkcli import crash\ncrash.install()\n"
        + ("import ctypes\nctypes.string_at(0)\n" if how == "fault" else
           "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    )
    done = _crash(code)
    assert done.returncode == -signal.SIGSEGV
    lines = done.stderr.strip().splitlines()
    assert lines == [crash.crash_line("SIGSEGV").strip()]
    assert lines[0] == "thinkcli: error: llama.cpp crashed (SIGSEGV); run with --debug for details"


def test_amx_is_blamed_only_where_the_build_has_it_and_repacking_was_on():
    code = ("from thinkcli import crash\ncrash.install(amx=True)\n"
            "import os, signal\nos.kill(os.getpid(), signal.SIGBUS)\n")
    done = _crash(code)
    assert done.returncode == -signal.SIGBUS
    assert done.stderr.strip().splitlines() == [crash.crash_line("SIGBUS", amx=True).strip()]
    assert "(SIGBUS)" in done.stderr and "AMX" in done.stderr and "--no-repack" in done.stderr


def test_debug_adds_the_python_stack_before_the_line():
    done = _crash("from thinkcli import crash\ncrash.install(debug=True)\nimport ctypes\nctypes.string_at(0)\n")
    assert done.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in done.stderr and "string_at" in done.stderr
    assert done.stderr.endswith(crash.crash_line("SIGSEGV", debug=True))


def test_a_normal_exit_says_nothing_and_the_watcher_leaves_with_it():
    code = ("from thinkcli import crash\nassert crash.install(debug=True)\nimport time\ntime.sleep(0.3)\n"
            "print(crash._watcher.pid)\n")
    done = _crash(code, timeout=30)
    assert done.returncode == 0 and done.stderr == ""
    stat = Path(f"/proc/{int(done.stdout)}/stat")

    def ended() -> bool:  # gone, or dead and waiting for whichever process adopted it to reap it
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 10  # its stderr closed as it began to exit; the rest follows
    while not ended() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended()


def test_a_crash_while_another_thread_holds_the_gil_still_ends_with_the_line():
    # The crashing thread is in native code without the GIL (as in llama_decode) while
    # another thread holds it and will not let go (a C call made through PyDLL keeps it).
    # A handler that needs the GIL would wait here forever.
    code = (
        "import ctypes, signal, sys, threading\n"
        "from thinkcli import crash\ncrash.install()\n"
        "def hog():\n"
        "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGSEGV})  # the signal goes to the main thread\n"
        "    print('ready', flush=True)\n"
        "    ctypes.PyDLL(None).sleep(30)\n"
        "threading.Thread(target=hog, daemon=True).start()\n"
        "ctypes.CDLL(None).sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=Path(crash.__file__).parents[1])
    try:
        assert child.stdout.readline() == "ready\n"
        time.sleep(0.5)  # the hog is inside its sleep, holding the GIL
        os.kill(child.pid, signal.SIGSEGV)
        _, err = child.communicate(timeout=15)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGSEGV
    assert err.strip().splitlines() == [crash.crash_line("SIGSEGV").strip()]


@pytest.mark.model
def test_an_amx_build_whose_probe_crashes_loads_without_repacking(home_with_model, tmp_path, monkeypatch):
    # The whole path on the real model: llama.cpp is made to report AMX, the probe child
    # really dies by SIGSEGV, and the engine then loads with repacking off and says why.
    import io

    from rich.console import Console

    from thinkcli import load
    from thinkcli.config import load_settings
    from thinkcli.engine import llama

    crasher = tmp_path / "crasher.py"
    crasher.write_text("import ctypes\nctypes.string_at(0)\n")
    real_run = subprocess.run
    monkeypatch.setattr(hardware.subprocess, "run", lambda cmd, **kw: real_run([sys.executable, str(crasher)], **kw))
    monkeypatch.setattr(llama, "system_info", lambda: AMX_BUILD)
    built = []
    real_engine = llama.LlamaEngine
    monkeypatch.setattr(llama, "LlamaEngine", lambda *a, **k: built.append(k["repack"].value) or real_engine(*a, **k))
    env = {"THINKCLI_HOME": str(home_with_model), "THINKCLI_CACHE": str(tmp_path / "cache")}
    out = io.StringIO()
    engine = load.open_engine(load_settings(env=env), env, Console(file=out, width=300), n_seq_max=1, debug=True)
    engine.close()
    assert built == [False]
    assert "AMX kernels work" in out.getvalue() and "repacking off: a decode with AMX repacking died by signal 11" in out.getvalue()
    memory = json.loads((tmp_path / "cache" / "hardware.json").read_text())
    assert [v["repack"] for v in memory.values()] == [False]
    # The next run remembers, without a probe.
    monkeypatch.setattr(hardware.subprocess, "run", lambda *a, **k: pytest.fail("probed twice"))
    out = io.StringIO()
    load.open_engine(load_settings(env=env), env, Console(file=out, width=300), n_seq_max=1, debug=True).close()
    assert built == [False, False] and "remembered" in out.getvalue()


@pytest.mark.model
@pytest.mark.parametrize("build, repack, blamed", [
    (AMX_BUILD, "on", True), (AMX_BUILD, "off", False), ("CPU : AVX2 = 1 | REPACK = 1 |", "on", False)])
def test_loading_tells_the_watcher_whether_amx_can_be_blamed(home_with_model, tmp_path, monkeypatch,
                                                             build, repack, blamed):
    from dataclasses import replace

    from rich.console import Console

    from thinkcli import load
    from thinkcli.config import load_settings
    from thinkcli.engine import llama
    from thinkcli.engine.fake import FakeEngine

    installs = []
    monkeypatch.setattr(crash, "install", lambda **k: installs.append(k) or True)
    monkeypatch.setattr(llama, "system_info", lambda: build)
    monkeypatch.setattr(llama, "LlamaEngine", lambda *a, **k: FakeEngine([]))  # nothing decodes here
    env = {"THINKCLI_HOME": str(home_with_model), "THINKCLI_CACHE": str(tmp_path / "cache")}
    settings = replace(load_settings(env=env), repack=repack)
    load.open_engine(settings, env, Console(file=None), n_seq_max=1, debug=False).close()
    assert installs == [{"debug": False, "amx": blamed}]


def test_installing_twice_keeps_one_watcher_and_takes_the_latest_wording():
    # A chat that switches model loads the engine again: one watcher, told the new model's case.
    code = ("from thinkcli import crash\ncrash.install(amx=True)\nfirst = crash._watcher\n"
            "crash.install()\nassert crash._watcher is first\nimport ctypes\nctypes.string_at(0)\n")
    done = _crash(code)
    assert done.returncode == -signal.SIGSEGV
    assert done.stderr.strip().splitlines() == [crash.crash_line("SIGSEGV").strip()]
