"""Check a directory of published chat templates through ``thinkcli ask --print-prompt``.

Usage: ``python benchmarks/templates.py DIR [-m MODEL]``. For each ``*.jinja`` in DIR,
renders the same question with thinking on and off, and prints the detected format,
how each prompt ends, and whether thinking is left open with thinking off (a leak).
The templates are not part of the repository: collect the published ones yourself
(llama.cpp's ``models/templates``, the model cards).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from thinkcli import cli
from thinkcli.reasoning import detect_format, starts_in_thinking

QUESTION = "What is 2+2?"


def print_prompt(template: Path, model: str, *flags: str) -> tuple[dict | None, str]:
    """One ``--print-prompt --json`` run; the parsed object, or None and the error line."""
    out, err = io.StringIO(), io.StringIO()
    args = ["ask", "--print-prompt", "--json", "--no-stdin", "-m", model, "--chat-template-file", str(template)]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([*args, *flags, QUESTION])
    if code != 0:
        return None, err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {code}"
    return json.loads(out.getvalue()), ""


def tail(prompt: str, n: int = 36) -> str:
    return json.dumps(prompt[-n:], ensure_ascii=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("-m", "--model", default="smollm2-135m")
    options = parser.parse_args()
    templates = sorted(options.directory.glob("*.jinja"))
    rendered = leaks = 0
    for template in templates:
        on, error_on = print_prompt(template, options.model, "-e", "medium")
        off, error_off = print_prompt(template, options.model, "--no-think")
        if on is None or off is None:
            print(f"{template.stem}: does not render: {error_on or error_off}")
            continue
        rendered += 1
        fmt = detect_format(template.read_text(encoding="utf-8"))
        open_when_off = fmt.native and starts_in_thinking(fmt, off["prompt"])
        leaks += open_when_off
        print(f"{template.stem}: format {on['format']}")
        print(f"  on : starts_in_thinking={on['starts_in_thinking']!s:5} ends {tail(on['prompt'])}")
        print(f"  off: {'THINKING LEFT OPEN ' if open_when_off else ''}ends {tail(off['prompt'])}")
    print(f"rendered {rendered} of {len(templates)}; thinking left open with thinking off: {leaks}")
    return 0 if rendered == len(templates) and not leaks else 1


if __name__ == "__main__":
    sys.exit(main())
