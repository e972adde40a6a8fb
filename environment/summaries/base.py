"""The writer of every command's ``summary.json`` and the protocol a summary follows.

A command fills its summary with attributes; the console lines, the figures and the
reproduction pages read attributes, never dict keys. :func:`write_summary` writes any of them
with the schema version and the verdict (``environment.verdict``) first:

    {"schema_version": SCHEMA_VERSION, "command": ..., "verdict": ..., "exit_code": ...,
     "failed_checks": [...], "checks": [...], <the summary's own entries>}

Each summary's :meth:`as_json` gives its own entries (nested dataclasses become objects, tuples
and arrays lists, non-finite floats ``null``). Shapes here are plain data: the producers (the
commands, the studies) build them from their results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from environment import outputs
from environment.verdict import Verdict

SCHEMA_VERSION = 3
"""Version of the ``summary.json`` layout (2: typed summaries, the verdict first; 3:
``flexibility-region`` records its coupon band per model, ``models.<model>.band_min``)."""


class CommandSummary(Protocol):
    """What :func:`write_summary` needs of a summary."""

    command: ClassVar[str]

    def as_json(self) -> dict[str, Any]:
        """The summary's own entries."""


def to_json(value: Any) -> Any:
    """``value`` as JSON data (``environment.outputs.json_safe``: dataclasses as objects,
    tuples and arrays as lists, NaN as ``null``)."""
    return outputs.json_safe(value)


def summary_document(summary: CommandSummary, verdict: Verdict) -> dict[str, Any]:
    """The whole ``summary.json``: schema version, command, verdict, the summary's entries."""
    own = summary.as_json()
    head = {"schema_version": SCHEMA_VERSION,
            "command": own.get("command", summary.command), **verdict.as_dict()}
    doc = {**head, **own}
    doc.update(head)  # first in the file, and these values win
    return doc


def write_summary(path: Path, summary: CommandSummary, verdict: Verdict) -> None:
    """Write ``summary.json`` atomically (:func:`summary_document`)."""
    outputs.write_json(path, summary_document(summary, verdict))
