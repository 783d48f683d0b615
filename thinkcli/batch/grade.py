"""Grade an answer against the expected one, the way the vote groups answers."""

from __future__ import annotations

from thinkcli.answers import extract_answer, normalize


def grade(answer: str, extracted: str | None, expected: str) -> bool:
    """Whether a result's answer is the expected one.

    The expected answer may itself be written as the model would (``\\boxed{17}``,
    "The answer is 17."): both sides go through the same extraction and normalization
    as voting, so ``1,000`` = ``1000.0`` and case or surrounding punctuation of a short
    text answer do not matter.

    Args:
        answer: the chosen path's answer text.
        extracted: its extracted final answer, if any.
        expected: the expected answer from the problem file.
    """
    # A bare answer ("17", "\\frac{3}{4}") is taken as written; a sentence or a box is read
    # for its final statement first.
    written = expected.strip()
    wordy = " " in written or "\\boxed" in written
    want = normalize((extract_answer(written) if wordy else None) or written)
    if not want:
        return False
    got = extracted if extracted is not None else extract_answer(answer)
    if got is not None and normalize(got) == want:
        return True
    return normalize(answer) == want  # a bare short answer ("Paris.")
