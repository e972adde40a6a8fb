"""Typed summary of ``reproduce``: the papers reproduced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from environment.summaries.base import to_json


@dataclass(frozen=True)
class PaperRunNote:
    """A run of a reproduction (command line, verdict, exit code)."""

    command: str
    verdict: str
    exit_code: int


@dataclass(frozen=True)
class PaperResult:
    """One paper's reproduction in numbers: rows within 20 %, off with a named cause, and off
    with none (a missed target)."""

    paper: str
    rows: int
    within: int
    named: int
    unexplained: int
    runs: tuple[PaperRunNote, ...]


@dataclass(frozen=True)
class ReproduceSummary:
    """``reproduce``: the papers reproduced, the commit, the runtime."""

    command: ClassVar[str] = "reproduce"
    paper: str
    quick: bool
    commit: str
    papers: tuple[PaperResult, ...]
    runtime_s: float

    @classmethod
    def of(cls, paper: str, quick: bool, commit: str, pages: Any, runtime_s: float
           ) -> ReproduceSummary:
        """From the pages written (``environment.experiments.reproduce.rows.PaperPage``)."""
        return cls(paper, quick, commit, tuple(
            PaperResult(p.paper, len(p.rows), sum(not r.off for r in p.rows),
                        sum(r.off and r.cause is not None for r in p.rows), len(p.unexplained),
                        tuple(PaperRunNote(n.command, n.verdict, n.exit_code) for n in p.runs))
            for p in pages), runtime_s)

    def as_json(self) -> dict[str, Any]:
        """The file's entries."""
        return {"paper": self.paper, "quick": self.quick, "commit": self.commit,
                "papers": to_json(self.papers), "runtime_s": round(self.runtime_s, 1)}
