"""Number options of the command line, refused in one line like every other bad input.

argparse reports a bad option value with its usage block and ``prog: error: ...``; the contract
of ``run_sim.py`` is one line on stderr starting ``error: `` that names the option, the value
and the fix, and exit code 2. :func:`finite_float` is an argparse ``type`` that keeps it: text
that is not a number, and infinite or NaN values (which would pass range checks such as
``x > 0`` or turn into NaN power flows), print that line and exit 2 (``SystemExit``, as
argparse itself does) while the command line is parsed, before any work.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import NoReturn


def refuse(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 2 (bad input)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def finite_float(flag: str, example: str = "") -> Callable[[str], float]:
    """An argparse ``type`` for a float option that must be a finite number.

    Args:
        flag: The option as the user types it, e.g. ``"--alpha"`` (named in the message).
        example: A typical value for the fix, e.g. ``"0.9"`` (optional).

    Returns:
        The converter: text -> float; it exits the process with the one-line error (code 2)
        for text that is not a number or is ``inf``/``nan``.
    """
    fix = f"give a finite number, e.g. {example}" if example else "give a finite number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            refuse(f"{flag}: {text!r} is not a number; {fix}")
        if not math.isfinite(value):
            refuse(f"{flag}: {text} is not a finite number; {fix}")
        return value

    parse.__name__ = "finite_float"  # argparse names the type in its own messages
    return parse
