"""Typed values where they enter: one rule per configuration key.

A ``Check`` takes a value from a TOML file (already typed) or, with ``parse_env``, the
text of an environment variable, and returns it checked, or raises ``Invalid`` with
why it is wrong; the caller says where the value came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

AUTO = "auto"  # TOML has no null: this string stands for "choose for me"


class Invalid(Exception):
    """A value failed its check; the message says why, the caller adds where."""


_TOML_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}


def type_name(value: object) -> str:
    if isinstance(value, dict):
        return "table"
    return _TOML_TYPES.get(type(value), type(value).__name__)


@dataclass(frozen=True, slots=True)
class Check:
    """Type and range rule for one key; callable on typed values, ``parse_env`` on strings."""

    kind: str  # "int" | "float" | "str" | "strs" | "bool"
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    auto: bool = False  # the string "auto" stands for None, since TOML has no null
    choices: tuple[str, ...] = ()
    nonempty: bool = False

    def expected(self) -> str:
        what = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}.get(
            self.kind, "an array of strings"
        )
        return f'{what} or "{AUTO}"' if self.auto else what

    def __call__(self, value: object) -> object:
        if self.auto and value == AUTO:
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise Invalid(f"expected {self.expected()}, got {type_name(value)}")
            return value
        if isinstance(value, bool) or not isinstance(value, _PY_TYPES[self.kind]):
            raise Invalid(f"expected {self.expected()}, got {type_name(value)}")
        if self.kind == "float":
            value = float(value)
            if not math.isfinite(value):
                raise Invalid(f"expected a finite number, got {value}")
        if self.kind == "strs":
            return self._strings(value)
        if self.kind == "str":
            return self._text(value)
        self._in_range(value)
        return value

    def parse_env(self, raw: str) -> object:
        text = raw.strip()
        if self.kind == "strs":
            return self(split_list(raw))
        if self.kind == "bool":
            words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
            if text.lower() not in words:
                raise Invalid(f"expected {self.expected()}, got {raw!r}")
            return words[text.lower()]
        if self.kind == "str":
            # Names and choices are words; prompts keep their spacing.
            return self(text if self.choices or self.nonempty else raw)
        if self.auto and text.lower() == AUTO:
            return None
        try:
            value: object = int(text) if self.kind == "int" else float(text)
        except ValueError:
            raise Invalid(f"expected {self.expected()}, got {raw!r}") from None
        return self(value)

    def _in_range(self, value: float) -> None:
        rules = []
        if self.low is not None:
            op = ">" if self.open_low else ">="
            ok = value > self.low if self.open_low else value >= self.low
            rules.append((ok, f"{op} {self.low}"))
        if self.high is not None:
            rules.append((value <= self.high, f"<= {self.high}"))
        if not all(ok for ok, _ in rules):
            raise Invalid(f"must be {' and '.join(text for _, text in rules)}, got {value!r}")

    def _text(self, value: str) -> str:
        if self.choices and value not in self.choices:
            raise Invalid(f"must be one of: {', '.join(self.choices)}; got {value!r}")
        if self.nonempty and not value.strip():
            raise Invalid("must not be empty")
        return value

    def _strings(self, value: list | tuple) -> tuple[str, ...]:
        if not all(isinstance(item, str) for item in value):
            raise Invalid(f"expected {self.expected()}, got an array holding other values")
        if not value or not all(value):
            raise Invalid("must hold at least one string, and no empty ones")
        return tuple(value)


_PY_TYPES = {"int": int, "float": (int, float), "str": str, "strs": (list, tuple), "bool": bool}


def split_list(raw: str) -> list[str]:
    # A TOML array keeps commas inside items ("Wait,"); the plain form is for simple words.
    if raw.strip().startswith("["):
        try:
            return tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            raise Invalid(f"expected a TOML array of strings, got {raw!r}") from None
    return [item.strip() for item in raw.split(",") if item.strip()]
