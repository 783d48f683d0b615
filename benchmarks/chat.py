"""thinkcli chat: start-up time until the prompt appears, and the cache across turns.

Prints, in one run: the median time from starting `thinkcli chat` in a pseudo-terminal
until its prompt is drawn (several runs), and, for a five-turn conversation, each turn's
prompt tokens against the tokens actually evaluated (the rest came from the cache).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pexpect
from _common import median, model_path

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
QUESTIONS = ["What is 12 + 7?", "And 3 + 4?", "Which of the two is larger?", "Add them together.",
             "Now say it in one short sentence."]
BANNER = "\x1b[?2004h"  # prompt-toolkit turns bracketed paste on as each prompt starts


def spawn(home: Path, *args: str) -> pexpect.spawn:
    env = {**os.environ, "THINKCLI_HOME": str(home), "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
    return pexpect.spawn(sys.executable, ["-m", "thinkcli", "chat", *args], env=env, encoding="utf-8", timeout=600,
                         dimensions=(40, 100))


def wait_prompt(child: pexpect.spawn) -> None:
    child.expect_exact(BANNER)
    child.expect_exact(">>>")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "models").mkdir()
        shutil.copyfile(model_path(), home / "models" / "smollm2-135m.gguf")
        startup = []
        for _ in range(RUNS):
            started = time.perf_counter()
            child = spawn(home)
            wait_prompt(child)
            startup.append(time.perf_counter() - started)
            child.sendcontrol("d")
            child.expect(pexpect.EOF)
        child = spawn(home, "--seed", "1", "-e", "low", "--max-tokens", "48")
        wait_prompt(child)
        for question in QUESTIONS:
            child.sendline(question)
            wait_prompt(child)
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        [session] = (home / "sessions").glob("*.json")
        turns = json.loads(session.read_text())["turns"]
    print(f"start-up until the prompt: {median(startup):.2f} s (median; runs: {', '.join(f'{x:.2f}' for x in startup)})")
    print("turn  prompt_tokens  prompt_eval_tokens  reused  answer_tokens(prev)")
    previous = 0
    for i, turn in enumerate(turns, 1):
        s = turn["stats"]
        print(f"{i:4d}  {s['prompt_tokens']:13d}  {s['prompt_eval_tokens']:18d}  "
              f"{s['prompt_tokens'] - s['prompt_eval_tokens']:6d}  {previous:8d}")
        previous = s["answer_tokens"]


if __name__ == "__main__":
    main()
