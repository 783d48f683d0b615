"""Jinja's immutable sandbox with limits: a template may not run long or make much.

A model file's chat template is code from whoever published the file. The sandbox
already keeps it from Python's internals; this adds a budget to every render: steps
(each loop iteration, call, filter and operator, and one for every 64 characters it
makes), wall-clock seconds, and the size of the prompt and of every value on the way.
Loops are counted by rewriting each ``{% for %}`` to iterate through ``loop_items``;
operations that can make far more than they are given are sized before they run.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from collections.abc import Iterator
from contextvars import ContextVar
from functools import update_wrapper, wraps
from math import inf
from string import Formatter

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter, SecurityError,
)
from jinja2.utils import _PassArg
from markupsafe import Markup

import thinkcli.engine.template.sizes as sizes
from thinkcli.engine.template.limits import Limits


class OverLimit(BaseException):
    """A render went over a limit. A BaseException, so that nothing on the way out
    (a filter's ``except Exception``) can swallow it."""


class NotRendering(Exception):
    """A filter called with no render under way: Jinja folding constants while it
    compiles. Raising keeps the call for render time, when it is counted."""


class Budget:
    """The steps, deadline and sizes one render has left."""

    __slots__ = ("limits", "size", "steps", "max_steps", "seconds", "deadline", "memo")

    def __init__(self, limits: Limits, messages: list) -> None:
        pairs = len(messages) * len(messages)
        text = conversation_size(messages)
        self.limits = limits
        self.size = limits.size
        self.steps = 0
        copied = limits.copies * len(messages) * text // 64  # one step per 64 characters made
        self.max_steps = limits.steps + limits.steps_per_pair * pairs + copied
        self.seconds = limits.seconds + limits.seconds_per_pair * pairs
        self.deadline = time.perf_counter() + self.seconds
        self.memo: dict[int, tuple[object, int]] = {}

    def charge(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > self.max_steps:
            raise OverLimit(f"ran over {self.max_steps:,} steps (the limit; it may loop forever)")
        if time.perf_counter() > self.deadline:
            raise OverLimit(f"took over {self.seconds:.3g} s to render (the limit)")

    def fits(self, size: float) -> None:
        """Refuse to make something of ``size`` characters."""
        if size > self.size:
            raise OverLimit(f"made over {self.size:,} characters (the limit)")

    def holds(self, args: tuple, kwargs: dict) -> None:
        """Refuse arguments whose text would run past the limit: a namespace changed
        since a list holding it was made can make that list far larger than it was."""
        for value in (*args, *kwargs.values()):
            if sizes.is_container(value):
                self.fits(sizes.weight(value, self.memo))

    def making(self, size: int) -> None:
        """Check and charge for text of ``size`` characters about to be made."""
        self.fits(size)
        self.charge(1 + (size >> 6))

    def made(self, value: object) -> object:
        """Check and charge for a value the template just made; returns it."""
        if isinstance(value, (str, bytes)):
            self.making(len(value))
        elif isinstance(value, int):
            if value.bit_length() > self.limits.int_bits:
                raise OverLimit(f"made a number over {self.limits.int_bits:,} bits (the limit)")
        elif isinstance(value, (list, tuple, dict, set, frozenset)):
            self.fits(sizes.weight(value, self.memo))
            self.charge(1 + len(value) // 64)
        return value


def conversation_size(messages: list) -> int:
    """The characters of the messages' text."""
    return sum(len(m["content"]) for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str))


_ACTIVE: ContextVar[Budget | None] = ContextVar("thinkcli_template_budget", default=None)


def active() -> Budget:
    budget = _ACTIVE.get()
    if budget is None:
        raise NotRendering("no render under way")
    return budget


@contextmanager
def bounded(limits: Limits, messages: list) -> Iterator[Budget]:
    """Run a render under a fresh budget (the conversation sets the allowance); yields it."""
    budget = Budget(limits, messages)
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


def bounded_concat(parts) -> str:
    """``"".join`` that stops once the text grows past the limit: the prompt, and
    every ``{% set %}`` block, macro and filter block on the way."""
    budget = active()
    limit, total = budget.size, 0
    kept: list[str] = []
    keep = kept.append
    for part in parts:  # once per piece of every prompt: kept lean
        total += len(part)
        if total > limit:
            budget.fits(total)
        keep(part)
    budget.charge(1 + (total >> 6))
    return "".join(kept)


def printed(value: object) -> object:
    """What ``{{ ... }}`` prints, checked before it becomes text (constants, folded
    while compiling, need no check)."""
    budget = _ACTIVE.get()
    if budget is not None and sizes.is_container(value):
        budget.fits(sizes.weight(value, budget.memo))
    return value


def loop_items(iterable):
    """What every ``{% for %}`` iterates through: one step per item."""
    charge = active().charge
    for item in iterable:
        charge()
        yield item


def _range(*args: int) -> range:
    """``range()`` with at most ``range_items`` items."""
    budget = active()
    items = range(*args)
    try:
        count = len(items)
    except OverflowError:
        count = inf
    if count > budget.limits.range_items:
        raise OverLimit(f"asked for range() of {count:,} items (the limit is {budget.limits.range_items:,})")
    return items


def _binop_size(budget: Budget, op: str, left: object, right: object) -> float:
    """Largest result of ``left op right``, in characters (or bits for numbers)."""
    memo = budget.memo
    if op == "+" and not isinstance(left, (int, float)):
        return sizes.weight(left, memo) + sizes.weight(right, memo)
    if op == "*":
        if isinstance(left, int) and isinstance(right, int):
            return _bits(budget, left.bit_length() + right.bit_length())
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        return sizes.weight(seq, memo) * max(times, 0) if isinstance(times, int) else 0
    if op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        return _bits(budget, left.bit_length() * right)
    if op == "%":
        return sizes.printf(left, right, memo)
    return 0


def _bits(budget: Budget, bits: int) -> int:
    if bits > budget.limits.int_bits:
        raise OverLimit(f"made a number over {budget.limits.int_bits:,} bits (the limit)")
    return 0


class _Formatter:
    """``str.format`` in the sandbox, refusing a field whose width runs past the limit
    and stopping once the text made passes it."""

    def format_field(self, value: object, format_spec: str) -> str:
        budget = active()
        budget.holds((value,), {})
        budget.fits(sizes.spec_width(format_spec))
        text = super().format_field(value, format_spec)
        self.made += len(text)
        budget.fits(self.made)
        return text


class _BoundedFormatter(_Formatter, SandboxedFormatter):
    made = 0


class _BoundedEscapeFormatter(_Formatter, SandboxedEscapeFormatter):
    made = 0


class _Generator(CodeGenerator):
    """Compiles ``~`` and list, tuple and dict displays through the budget."""

    def visit_Concat(self, node: nodes.Concat, frame) -> None:
        self.write("environment.joined((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), context.eval_ctx.autoescape)")

    def visit_List(self, node: nodes.List, frame) -> None:
        self.write("environment.made(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame) -> None:
        self.write("environment.made(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame) -> None:
        if node.ctx != "load":  # a target, as in {% for key, value in ... %}
            super().visit_Tuple(node, frame)
            return
        self.write("environment.made(")
        super().visit_Tuple(node, frame)
        self.write(")")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, counting every step against the render's ``Budget``."""

    code_generator_class = _Generator
    intercepted_binops = frozenset({"+", "*", "**", "%"})
    concat = staticmethod(bounded_concat)
    loop_items = staticmethod(loop_items)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.finalize = printed
        self.globals["range"] = _range
        self.globals.pop("lipsum", None)  # paragraphs of filler, as many as asked for
        self.filters = {name: _bounded_filter(name, func) for name, func in self.filters.items()}

    def _parse(self, source, name, filename):
        """The template's tree, each ``{% for %}`` reading through ``loop_items``."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            counted = nodes.EnvironmentAttribute("loop_items", lineno=loop.lineno)
            loop.iter = nodes.Call(counted, [loop.iter], [], None, None, lineno=loop.lineno)
        return tree

    def unsafe_undefined(self, obj: object, attribute: str):
        """Refuse at once, where Jinja hands back an empty value that refuses only when
        used: ``"{0.__class__}".format(x)`` and ``{% if x.__class__ %}`` would pass."""
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def add_filter(self, name: str, func) -> None:
        self.filters[name] = _bounded_filter(name, func)

    @staticmethod
    def made(value: object) -> object:
        return active().made(value)


    @staticmethod
    def joined(parts: tuple, autoescape: bool) -> str:
        """``a ~ b``: the parts' sizes are added up before they are joined."""
        budget = active()
        budget.charge()
        budget.fits(sum(sizes.weight(part, budget.memo) for part in parts))
        return budget.made((markup_join if autoescape else str_join)(parts))

    def call_binop(self, context, operator: str, left: object, right: object) -> object:
        budget = active()
        if operator == "+" and type(left) is str and type(right) is str:
            # most of what templates do, so inline; the clock is read at the next loop step or call
            size = len(left) + len(right)
            budget.steps += 1 + (size >> 6)
            if size > budget.size or budget.steps > budget.max_steps:
                budget.making(size)
            return left + right
        budget.charge()
        budget.fits(_binop_size(budget, operator, left, right))
        return budget.made(self.binop_table[operator](left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (names Jinja's own call uses)
        budget = active()
        budget.charge()
        if getattr(__obj, "__name__", None) == "join" and args:
            args = (sizes.listed(args[0]), *args[1:])
        if __obj is not loop_items:  # iterating prints nothing
            budget.holds(args, kwargs)
        budget.fits(sizes.method_size(__obj, args, kwargs, budget.memo))
        return budget.made(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value):
        """``str.format`` and ``format_map`` through a formatter that counts what it makes."""
        if getattr(value, "__name__", None) not in ("format", "format_map"):
            return None
        owner = getattr(value, "__self__", None)
        if not isinstance(owner, str):
            return None
        is_map = value.__name__ == "format_map"

        def bounded_format(*args, **kwargs):
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            if isinstance(owner, Markup):
                formatter: Formatter = _BoundedEscapeFormatter(self, escape=owner.escape)
            else:
                formatter = _BoundedFormatter(self)
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return update_wrapper(bounded_format, value)


def _bounded_filter(name: str, func):
    """``func`` counted as a step, its result checked, and sized first if it can make
    more than it is given."""
    skip = 1 if _PassArg.from_obj(func) is not None else 0
    sized = name in ("center", "indent", "wordwrap", "replace", "join", "format", "batch", "slice", "sum")
    listing = name in ("join", "sum")

    @wraps(func)
    def bounded(*args, **kwargs):
        budget = active()
        budget.charge()
        if listing and len(args) > skip:
            args = (*args[:skip], sizes.listed(args[skip]), *args[skip + 1:])
        budget.holds(args[skip:], kwargs)
        if sized:
            budget.fits(sizes.filter_size(name, args[skip:], kwargs, budget.memo))
        return budget.made(func(*args, **kwargs))

    return bounded
