"""What one render of a chat template may use (kept apart from Jinja, which loads late)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """What one render may use. A conversation of n messages holding c characters
    earns more, as published templates may do work that grows with it: n² times
    ``steps_per_pair`` steps and n² times ``seconds_per_pair`` seconds (Gemma 4 looks back
    over the earlier turns for every message), and ``copies`` times n times c characters
    made (Reka-Edge builds its prompt by appending to it, copying it for every message).

    Args:
        steps: loop iterations, calls, filters and operators, plus one per 64 characters made.
        seconds: wall-clock time.
        size: characters in the prompt, and in any one value the template makes.
        range_items: the most items ``range()`` may give.
        int_bits: the largest number a template may compute, in bits.
        steps_per_pair: extra steps for each pair of messages.
        seconds_per_pair: extra seconds for each pair of messages.
        copies: how many times per message the conversation's text may be copied.
    """

    steps: int = 1_000_000
    seconds: float = 5.0
    size: int = 16 * 2**20
    range_items: int = 100_000
    int_bits: int = 2**16
    steps_per_pair: int = 8
    seconds_per_pair: float = 20e-6
    copies: int = 8


LIMITS = Limits()
