"""Every example in the README and the docs runs, so none goes stale.

Each page's ``sh`` blocks run line by line, in order, in a fresh directory holding the
files they name, with ``thinkcli`` on the PATH running the real command line on a
scripted engine (``tests/docs_thinkcli.py``: offline, quick). An example must exit 0.
Install commands are CI's own: of those only the ``thinkcli`` part after the last
``&&`` runs here. ``--help`` of each documented command names its page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FILES = {
    "problem.txt": "A farmer has 17 sheep and buys 5 more. How many sheep does he have?\n",
    "notes.md": "# Notes\n\nThe meeting moved to Tuesday.\n",
    "questions.txt": "What is 2 + 2?\nWhat is 3 + 3?\n",
    "p1.txt": "What is 12 + 7?\n",
    "p2.txt": "What is 6 * 7?\n",
    "problems.jsonl": "".join(json.dumps({"id": i, "question": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
                              for i in range(1, 5)),
}


def examples(page: Path) -> list[str]:
    """The command lines of ``page``'s ``sh`` blocks (comments and blank lines dropped)."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", page.read_text(), re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if not line or line.startswith("#"):
                continue
            if "pip install" in line:
                tail = line.rsplit("&& ", 1)[-1]
                if not tail.startswith("thinkcli"):
                    continue  # the install and the test command: CI runs them
                line = tail
            lines.append(line)
    return lines


def sandbox(tmp_path: Path) -> tuple[Path, dict]:
    work = tmp_path / "work"
    work.mkdir()
    for name, text in FILES.items():
        (work / name).write_text(text)
    from thinkcli.engine.template import CHATML

    (work / "t.jinja").write_text(CHATML)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "thinkcli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "docs_thinkcli.py"}" "$@"\n')
    shim.chmod(0o755)
    if shutil.which("jq") is None:  # a clean machine: only .field is needed
        jq = bin_dir / "jq"
        jq.write_text(f'#!{sys.executable}\nimport json, sys\nv = json.load(sys.stdin)\n'
                      'for k in sys.argv[1].strip(".").split("."):\n    v = v[k] if k else v\nprint(json.dumps(v))\n')
        jq.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "THINKCLI_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    return work, env


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_example_runs(page, tmp_path):
    lines = examples(page)
    if page.name in ("README.md", "ask.md", "chat.md", "batch.md", "log.md", "remote.md", "configuration.md"):
        assert lines, f"{page.name} shows no example"
    work, env = sandbox(tmp_path)
    exports = []
    for line in lines:
        if line.startswith("export "):
            exports.append(line)
            continue
        script = "\n".join(["set -e -o pipefail", *exports, line])
        done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"{page.name}: {line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("command, page", [
    ("ask", "ask.md"), ("chat", "chat.md"), ("batch", "batch.md"), ("log", "log.md"), ("trace", "log.md"),
    ("models", "configuration.md"), ("pull", "configuration.md"), ("tune", "tune.md"),
])
def test_each_commands_help_names_its_page(command, page):
    done = subprocess.run([sys.executable, "-m", "thinkcli", command, "--help"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0 and f"docs/{page}" in done.stdout
def test_readme_is_a_first_page_and_every_page_is_one_link_away():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    for page in PAGES[1:]:
        assert f"docs/{page.name}" in readme, f"README does not link {page.name}"


