"""What bounding a chat template's render costs, and how far published templates are from the limits.

Usage: ``python benchmarks/template_limits.py [DIR] [--repeat N]``. For each ``*.jinja`` in DIR
(published templates: llama.cpp's ``models/templates``, the model cards; without DIR,
thinkcli's own ChatML), renders
conversations of 1, 50 and 400 turns of 200-character messages, and 400 turns of
2,000-character ones, with thinkcli's bounded sandbox and with Jinja's
plain immutable sandbox, checks both give the same prompt, and prints the median
render times, their ratio, the steps used against the step limit, and the prompt size.
Then the slowest template, the overall median ratio, and how long the largest template
thinkcli accepts (``MAX_SOURCE``) takes to compile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

from thinkcli.engine import template as tpl
from thinkcli.engine.template import sandbox
from thinkcli.engine.template.limits import LIMITS
from thinkcli.errors import ChatTemplateError

SHAPES = ((1, 200), (50, 200), (400, 200), (400, 2000))  # turns, characters per message


def conversation(turns: int, size: int = 200) -> list[dict]:
    """A system prompt, ``turns`` question-answer pairs of about ``size`` characters, a last question."""
    messages = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(turns):
        messages.append({"role": "user", "content": f"Question {i}: " + "x" * size})
        messages.append({"role": "assistant", "content": f"Answer {i}: " + "y" * size})
    return [*messages, {"role": "user", "content": "And the last one?"}]


def plain_environment() -> ImmutableSandboxedEnvironment:
    """Jinja's immutable sandbox as thinkcli set it up before rendering was bounded."""

    class GenerationBlock(Extension):
        tags = {"generation"}

        def parse(self, parser):
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols", GenerationBlock]
    )
    env.globals["raise_exception"] = tpl._raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.filters["tojson"] = lambda v, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
        v, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    return env


def bounded_render(source: str, messages: list[dict]) -> tuple[str, int, int]:
    """The prompt, the steps it took and the step limit it had."""
    compiled = tpl._compile(source)
    context = compiled.new_context({"messages": messages, "bos_token": "<s>", "eos_token": "</s>",
                                    "add_generation_prompt": True})
    with sandbox.bounded(LIMITS, messages) as budget:
        text = compiled.environment.concat(compiled.root_render_func(context))
    return text, budget.steps, budget.max_steps


def timed(render, repeat: int) -> tuple[float, object]:
    """The median time of ``repeat`` calls (fewer for a slow one), and what it returned."""
    times, out = [], None
    while len(times) < repeat and sum(times) < 3.0:
        start = time.perf_counter()
        out = render()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def usable(source: str, messages: list[dict]) -> list[dict] | None:
    """The conversation this template takes: as is, or without the system turn (Gemma 2)."""
    for attempt in (messages, messages[1:]):
        try:
            bounded_render(source, attempt)
            return attempt
        except (ChatTemplateError, Exception):
            continue
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, nargs="?")
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()
    plain = plain_environment()
    ratios: dict[tuple[int, int], list[float]] = {shape: [] for shape in SHAPES}
    slowest, most_steps, largest, mismatches, skipped = (0.0, "", 0, 0), (0.0, ""), 0, 0, []
    print(f"{'template':44} {'turns':>5} {'size':>5} {'plain ms':>9} {'bounded ms':>10} {'ratio':>6} {'steps':>9} "
          f"{'of limit':>8} {'prompt chars':>12}")
    paths = sorted(options.directory.glob("*.jinja")) if options.directory else [Path("chatml")]
    for path in paths:
        source = path.read_text(encoding="utf-8") if options.directory else tpl.CHATML
        compiled_plain = plain.from_string(source)
        for turns, size in SHAPES:
            messages = usable(source, conversation(turns, size))
            if messages is None:
                skipped.append(path.stem)
                break
            variables = {"messages": messages, "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": True}
            plain_s, want = timed(lambda: compiled_plain.render(**variables), options.repeat)
            bounded_s, (got, steps, max_steps) = timed(lambda: bounded_render(source, messages), options.repeat)
            mismatches += got != want
            ratios[turns, size].append(bounded_s / plain_s)
            slowest = max(slowest, (bounded_s, path.stem, turns, size))
            most_steps = max(most_steps, (steps / max_steps, f"{path.stem} at {turns} turns of {size}"))
            largest = max(largest, len(got))
            print(f"{path.stem[:44]:44} {turns:>5} {size:>5} {plain_s * 1e3:>9.2f} {bounded_s * 1e3:>10.2f} "
                  f"{bounded_s / plain_s:>6.2f} {steps:>9,} {steps / max_steps:>8.2%} {len(got):>12,}"
                  + ("  DIFFERENT PROMPT" if got != want else ""))
    limit_there = LIMITS.seconds + LIMITS.seconds_per_pair * (2 * slowest[2] + 2) ** 2
    print(f"\nslowest: {slowest[1]} at {slowest[2]} turns of {slowest[3]}, {slowest[0] * 1e3:.1f} ms "
          f"(the time limit there is {limit_there:.3g} s, {limit_there / slowest[0]:.0f}x)")
    for (turns, size), group in ratios.items():
        if group:
            print(f"bounded/plain time at {turns} turns of {size}: median ratio {statistics.median(group):.2f}, "
                  f"max {max(group):.2f}")
    print(f"most steps: {most_steps[0]:.2%} of the step limit ({most_steps[1]}); largest prompt: {largest:,} "
          f"characters, {LIMITS.size / max(largest, 1):.0f}x under the size limit")
    print(f"prompts that differ: {mismatches}; templates that render no conversation: {', '.join(skipped) or 'none'}")
    for shape, line in [("loops", "{% for m in messages %}{{ m['content'] }}{% endfor %}\n"),
                        ("macros", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1) }}\n")]:
        big = line * (tpl.MAX_SOURCE // len(line))
        start = time.perf_counter()
        tpl._compile(big)
        print(f"compiling {len(big):,} characters of {shape} (the longest template accepted is "
              f"{tpl.MAX_SOURCE:,}): {time.perf_counter() - start:.2f} s")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
