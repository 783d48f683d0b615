"""Find a reasoning path's final answer in its text, and put it in a canonical form.

Pure string functions: ``extract_answer`` reads only a final statement (``\\boxed{}``,
"Final answer:", "####", "the answer is"; a last number only in a short answer);
``normalize`` makes equal answers equal; ``is_numeric_question`` says when a
phrase cannot be the answer.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction


_BOXED = re.compile(r"\\boxed\s*\{")
# "Final answer:" anywhere on a line, or "Answer:" opening one (after markdown
# markers), so prose like "my answer: maybe" mid-sentence is not taken.
_ANSWER_LINE = re.compile(
    r"(?:^[ \t>#*_\-]*(?:final[ \t]+)?|\bfinal[ \t]+)answer[ \t]*(?:\*\*|__)?[ \t]*[:：](.*)$",
    re.IGNORECASE | re.MULTILINE,
)
# Lazy up to a sentence end: a '.' counts only before whitespace or the end,
# so "the answer is 3.5." keeps its decimal point.
_ANSWER_IS = re.compile(
    r"\b(?:the[ \t]+)?(?:final[ \t]+)?answer[ \t]+is\b[ \t]*:?[ \t]*(.+?)(?=[.!?](?:\s|$)|$)",
    re.IGNORECASE | re.MULTILINE,
)
# A minus sign counts only where it cannot be subtraction or a hyphen ("5-3", "x-2").
_NUMBER = re.compile(
    r"(?:(?<![\w)\]])[-−])?"
    r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
    r"(?:\.\d+|/\d+)?"
)


def _boxed(text: str) -> str | None:
    """The content of the last balanced, non-empty ``\\boxed{...}``."""
    # Pair every brace in one pass: rescanning from each \boxed would be
    # quadratic on a sample that opens many and closes none.
    closing: dict[int, int] = {}
    opened: list[int] = []
    for i, char in enumerate(text):
        if char == "{":
            opened.append(i)
        elif char == "}" and opened:
            closing[opened.pop()] = i
    found = None
    for match in _BOXED.finditer(text):
        end = closing.get(match.end() - 1)
        if end is not None:
            found = text[match.end():end].strip() or found
    return found


def _answer_line(text: str) -> str | None:
    """The rest of the last "Final answer:"/"Answer:" line, or the next line if empty."""
    for match in reversed(list(_ANSWER_LINE.finditer(text))):
        rest = match.group(1).replace("**", "").strip()
        if not rest:
            # "**Final Answer:**" on its own line, the answer below it.
            following = text[match.end():].lstrip("\n").split("\n", 1)[0]
            rest = following.replace("**", "").strip()
        if rest:
            return rest
    return None


# GSM8K's convention, which small models trained on it follow: "#### 42" on its own line.
_HASHES = re.compile(r"^[ \t]*####[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)


def _hashes(text: str) -> str | None:
    """The rest of the last "#### answer" line."""
    found = _HASHES.findall(text)
    return found[-1] if found else None


def _answer_is(text: str) -> str | None:
    """What follows the last "the answer is", up to the end of its sentence."""
    for match in reversed(list(_ANSWER_IS.finditer(text))):
        found = match.group(1).replace("**", "").strip()
        if found:
            return found
    return None


# One or two sentences: short enough that its last number is what it states.
SHORT_SENTENCES = 2
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n+")
# A numeric question asks for a quantity, or to compute something.
_NUMERIC_QUESTION = re.compile(
    r"\bhow\s+(?:many|much|old|long|far|tall|fast)\b"
    r"|\d\s*[-+*/×÷^x]\s*\d"
    r"|\b(?:calculate|compute|sum|product|difference|total|remainder|quotient)\b"
    r"|\bwhat\s+is\s+[-\d(]",
    re.IGNORECASE,
)
# In a numeric answer's statement, the number must come first ("17 marbles", "$17").
_LEADING_NUMBER = re.compile(r"^[\s$=*_`(\\]*(" + _NUMBER.pattern + r"%?)")


def is_numeric_question(question: str) -> bool:
    """Whether ``question`` asks for a number ("how many", "what is 3 + 4", "the total")."""
    return bool(_NUMERIC_QUESTION.search(question))


def _short(text: str) -> bool:
    sentences = [part for part in _SENTENCE_END.split(text) if part.strip()]
    return len(sentences) <= SHORT_SENTENCES


def _as_number(statement: str) -> str | None:
    """The number a statement opens with, or None: a phrase is not a numeric answer."""
    if _canonical_number(_strip_edges(statement)) is not None:
        return statement
    match = _LEADING_NUMBER.match(statement.replace("**", ""))
    return match.group(1) if match else None


def extract_answer(text: str, *, numeric: bool = False) -> str | None:
    """Find the final answer a reasoning sample committed to, in a final statement only.

    Tried in order: the last ``\\boxed{...}``; a "Final answer:" / "Answer:"
    line; a "#### X" line (GSM8K's mark); "the answer is X"; and, only when the whole answer is one or two
    sentences and states nothing else, its last number. Rambling text that never
    states an answer gives None.

    Args:
        text: the sample's answer text.
        numeric: the question asks for a number: a statement that does not open
            with one ("the answer is a simple multiplication") is passed over.

    Returns:
        The raw extracted answer, stripped but not normalized, or None.
    """
    if not text:
        return None
    stated = False
    for rule in (_boxed, _answer_line, _hashes, _answer_is):
        found = rule(text)
        stated = stated or bool(found)
        if found and numeric:
            found = _as_number(found)
        if found:
            return found
    if stated or not _short(text):  # a stated phrase is not made a number from elsewhere
        return None
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox)\s*\{([^{}]*)\}")
_EDGE = " \t\r\n$*\"'`“”‘’"
_TRAILING = ".,;:!"
_DELIMITERS = (("\\(", "\\)"), ("\\[", "\\]"))
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?")
_FRACTION = re.compile(r"([+-]?\d+)\s*/\s*(\d+)")
_LATEX_FRACTION = re.compile(r"([+-]?)\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")
# Beyond this exponent a decimal is left as text rather than expanded digit by digit.
_MAX_EXPONENT = 1000


def _strip_edges(s: str) -> str:
    """Peel wrappers until none is left: "**$42$**." takes several rounds."""
    previous = None
    while s != previous:
        previous = s
        s = s.strip(_EDGE).rstrip(_TRAILING)
        for opening, closing in _DELIMITERS:
            if s.startswith(opening) and s.endswith(closing):
                s = s[len(opening):-len(closing)]
    return s


def _canonical_number(s: str) -> str | None:
    """One spelling per number: integer fractions reduced, decimals minimal."""
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    fraction = _FRACTION.fullmatch(s)
    latex = _LATEX_FRACTION.fullmatch(s)
    if fraction or latex:
        sign, num, den = latex.groups() if latex else ("", *fraction.groups())
        if int(den) == 0:
            return None
        value = Fraction(int(sign + num), int(den))
        return str(value)
    if not _DECIMAL.fullmatch(s):
        return None
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    if value == 0:
        return "0"
    if abs(value.adjusted()) > _MAX_EXPONENT:
        return None
    return format(value.normalize(), "f")


def normalize(answer: str) -> str:
    """Canonical form of an answer, so equal answers vote together.

    Case-folds, collapses whitespace, strips surrounding ``$``, ``**``, quotes
    and trailing punctuation, unwraps ``\\text{...}``, and spells numbers one
    way (``1,000`` = ``1000.0`` = ``1e3`` → ``1000``; a trailing ``%`` is kept).

    Args:
        answer: a raw extracted answer.

    Returns:
        The normalized answer (possibly empty).
    """
    s = answer
    previous = None
    while s != previous:
        previous, s = s, _TEXT_COMMAND.sub(r"\1", s)
    s = _strip_edges(s)
    s = " ".join(s.casefold().split())
    s = s.replace("\\%", "%").replace("−", "-")
    percent = s.endswith("%")
    core = s[:-1].strip() if percent else s
    number = _canonical_number(core)
    if number is None:
        return s
    return number + "%" if percent else number
