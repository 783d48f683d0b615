"""How big a template's values are, and how big an operation's result will be before it runs.

``weight`` is about the length of a value as text (a string's length, a list's items
each counted with the separators ``str()`` adds), counting shared parts each time they
appear, so a list that holds itself twice a hundred times over is seen for what printing
it would make. The estimates size the operations whose result can be far larger than
what goes in (repeating, padding to a width, replacing, joining, formatting) so the
sandbox can refuse them before Python allocates anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sized
from math import inf

from jinja2.utils import Namespace

_SEQUENCES = (list, tuple, set, frozenset)
_SCALAR = 24  # the longest repr of a float, and what anything else unknown is counted as
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?.", re.S)
_DIGITS = re.compile(r"\d+")


def weight(value: object, memo: dict[int, tuple[object, int]]) -> int:
    """About how long ``value`` is as text, counting shared parts every time.

    Args:
        value: any value a template holds.
        memo: weights of containers already measured in this render, by id (each kept
            alive beside its weight, so an id is never reused while the memo lives). A
            template cannot change a list or a dict, so their weights stay right; a
            namespace can change, so it and whatever holds one are measured afresh.
    """
    if isinstance(value, (str, bytes)):
        return len(value) + 2
    if not isinstance(value, (*_SEQUENCES, dict, Namespace)):
        return _scalar(value)
    known = memo.get(id(value))
    if known is not None:
        return known[1]
    return _walk(value, memo)


def _scalar(value: object) -> int:
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 2  # decimal digits, and a sign
    return _SCALAR


def _children(value: object) -> list:
    if isinstance(value, Namespace):
        value = object.__getattribute__(value, "_Namespace__attrs")
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return list(value)


def _walk(root: object, memo: dict[int, tuple[object, int]]) -> int:
    """Weights of ``root`` and the containers under it, children before parents and
    without recursion (templates can nest lists thousands deep)."""
    fresh: dict[int, int] = {}  # this walk's weights of namespaces and what holds one
    open_ids: set[int] = set()
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_ids.discard(key)
        elif key in memo or key in fresh or key in open_ids:
            continue
        elif type(node) is dict and (flat := _text_dict(node)) is not None:
            memo[key] = (node, flat)
            continue
        children = _children(node)
        if not children_done:
            unknown = [c for c in children if is_container(c) and id(c) not in memo and id(c) not in fresh]
            if unknown:  # measure those first, then come back
                open_ids.add(key)
                stack.append((node, True))
                stack.extend((child, False) for child in unknown)
                continue
        total, changeable = 2, isinstance(node, Namespace)
        for child in children:  # once per item of every conversation: kept lean
            if type(child) is str:
                total += len(child) + 4
            elif is_container(child):
                known = memo.get(id(child))
                changeable = changeable or known is None
                total += 2 + (known[1] if known is not None else fresh.get(id(child), _SCALAR))
            else:
                total += 2 + weight(child, memo)
        if changeable:
            fresh[key] = total
        else:
            memo[key] = (node, total)
    return _known(root, memo, fresh)


def _text_dict(node: dict) -> int | None:
    """The weight of a dict of strings (a message), joined in C rather than walked; None
    when it holds anything else."""
    try:
        return 2 + len("".join(node)) + len("".join(node.values())) + 8 * len(node)
    except TypeError:
        return None


def _known(value: object, memo: dict, fresh: dict) -> int:
    if not is_container(value):
        return weight(value, memo)
    if id(value) in fresh:
        return fresh[id(value)]
    known = memo.get(id(value))
    return known[1] if known is not None else _SCALAR  # a namespace inside itself prints as "{...}"


def is_container(value: object) -> bool:
    """Whether ``value`` holds other values (and may weigh far more than it looks)."""
    return isinstance(value, (*_SEQUENCES, dict, Namespace))


def listed(value: object) -> object:
    """``value`` as a list when it is an iterator (a ``map`` or ``select`` result), so it
    can be measured and still be used afterwards."""
    return list(value) if isinstance(value, Iterator) else value


def _length(value: object) -> int:
    return len(value) if isinstance(value, Sized) else _SCALAR


def _number(value: object) -> float:
    """An int argument as a size; anything else counts as nothing (the call fails on it)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _spec_number(digits: str) -> float:
    return inf if len(digits) > 12 else int(digits)


def printf(fmt: str | bytes, values: object, memo: dict) -> float:
    """Largest text ``fmt % values`` can make: the format, every width and precision
    it asks for, and the values printed."""
    if not isinstance(fmt, (str, bytes)):
        return 0
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    items = values if isinstance(values, tuple) else (values,)
    stars = max((_number(v) for v in items), default=0)
    total = len(text) + weight(values, memo)
    for spec in _PRINTF_SPEC.finditer(text):
        for number in spec.groups():
            total += stars if number == "*" else _spec_number(number) if number else 0
    return total


def spec_width(spec: str) -> float:
    """The largest number in a ``str.format`` spec (its width or precision)."""
    return max((_spec_number(d) for d in _DIGITS.findall(spec)), default=0)


def _line_count(text: str) -> int:
    return sum(text.count(c) for c in _LINE_BREAKS) + 1


def _replace(s, old, new, count=-1, *_):
    if not all(isinstance(v, (str, bytes)) for v in (s, old, new)):
        return 0
    times = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(s) + times * max(len(new) - len(old), 0)


def _join(sep, items, memo):
    items = items if isinstance(items, (list, tuple, str, dict, set, frozenset)) else ()
    return weight(items, memo) + len(items) * _length(sep)


def _pad(s, width=0, *_):
    return max(_length(s), _number(width))


def _expandtabs(s, tabsize=8):
    return len(s) + (s.count("\t") if isinstance(s, str) else s.count(b"\t")) * _number(tabsize)


def _translate(s, table, *_):
    values = table.values() if isinstance(table, Mapping) else ()
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    return _length(s) * max(longest, 1)


def method_size(method: object, args: tuple, kwargs: dict, memo: dict) -> float:
    """Largest result of a call to a string method that can make more than it is given
    (padding, tabs, replacing, joining, translating), or 0 for any other call."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, (str, bytes)):
        return 0
    name = getattr(method, "__name__", "")
    try:
        if name == "join":
            return _join(owner, args[0], memo)
        if name == "replace":
            return _replace(owner, *args, **kwargs)
        if name in ("center", "ljust", "rjust", "zfill"):
            return _pad(owner, *args, **kwargs)
        if name == "expandtabs":
            return _expandtabs(owner, *args, **kwargs)
        if name == "translate":
            return _translate(owner, *args, **kwargs)
    except (TypeError, IndexError):
        return 0  # called wrongly: the method itself says so
    return 0


def _indent(s, width=4, first=False, blank=False):
    text = str(s)
    step = len(width) if isinstance(width, str) else _number(width)
    return len(text) + _line_count(text) * step


def _wordwrap(s, width=79, break_long_words=True, wrapstring=None, *_, **__):
    text = str(s)
    return len(text) * (1 + (len(wrapstring) if isinstance(wrapstring, str) else 1)) + _line_count(text)


def _batch(memo, value, linecount, fill_with=None):
    return weight(value, memo) + _number(linecount) * (2 + weight(fill_with, memo))


def _slice(memo, value, slices, fill_with=None):
    return weight(value, memo) + _number(slices) * (4 + weight(fill_with, memo))


def _sum(memo, iterable, attribute=None, start=0):
    """Adding lists (or tuples) copies the total so far at every step."""
    items = iterable if isinstance(iterable, (list, tuple)) else ()
    if isinstance(start, _SEQUENCES) or any(isinstance(item, _SEQUENCES) for item in items):
        return len(items) * weight(iterable, memo)
    return 0


def filter_size(name: str, args: tuple, kwargs: dict, memo: dict) -> float:
    """Largest result of the filters that can make more than they are given, or 0.

    Args:
        name: the filter's name.
        args: its arguments after any context, the filtered value first.
        kwargs: its keyword arguments.
        memo: this render's weights.
    """
    try:
        if name == "center":
            return _pad(str(args[0]), *args[1:], **kwargs)
        if name == "indent":
            return _indent(*args, **kwargs)
        if name == "wordwrap":
            return _wordwrap(*args, **kwargs)
        if name == "replace":
            return _replace(str(args[0]), *args[1:], **kwargs)
        if name == "join":
            return _join(args[1] if len(args) > 1 else kwargs.get("d", ""), args[0], memo)
        if name == "format":
            return printf(str(args[0]), args[1:] or tuple(kwargs.values()), memo)
        if name == "batch":
            return _batch(memo, *args, **kwargs)
        if name == "slice":
            return _slice(memo, *args, **kwargs)
        if name == "sum":
            return _sum(memo, *args, **kwargs)
    except (TypeError, IndexError):
        return 0
    return 0
