"""Argument types for the command line (core and plugin commands): numbers checked at parse time.

Each is an ``argparse`` ``type=`` callable; a bad value gives argparse's one-line error naming
the option and the allowed range, before any work starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

SEED_LIMIT = 2**63  # torch.manual_seed takes a signed 64-bit seed


def int_range(lo: int | None = None, hi: int | None = None, what: str = "an integer"
              ) -> Callable[[str], int]:
    """An integer in ``[lo, hi]`` (either bound may be open)."""
    if lo is not None and hi is not None:
        allowed = f"{what} in {lo}..{hi}"
    elif lo is not None:
        allowed = f"{what} >= {lo}"
    elif hi is not None:
        allowed = f"{what} <= {hi}"
    else:
        allowed = what

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {value}")
        return value

    parse.__name__ = what  # argparse names the type in its own messages
    return parse


seed = int_range(0, SEED_LIMIT - 1, "a seed (integer)")
positive = int_range(1, None, "an integer")
non_negative = int_range(0, None, "an integer")


def tying(text: str) -> str:
    """A tying spec (tied, untied, partial:C), checked by the core's parser."""
    from unfold.unroller import Tying  # torch: only when --tying is given

    try:
        Tying.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def positive_float(what: str = "a number") -> Callable[[str], float]:
    """A finite float > 0 (e.g. a block length in seconds)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} > 0, got {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"expected {what} > 0, got {text}")
        return value

    parse.__name__ = what
    return parse


seconds = positive_float("a duration in seconds")
