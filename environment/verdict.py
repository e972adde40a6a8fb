"""The exit-code contract every command follows, and the verdict that carries it.

A command collects :class:`Check` results — each either a **validity** check (a physical limit
at a realised or planned operating point, a grid-infeasible interval, an impossible number) or a
**target** the command itself states (an equilibrium gap, a chance constraint's risk out of
sample, an α coverage, the share of delivered calls) — into one :class:`Verdict`. Its exit code:

====  ==================================================================================
0     ran, and every validity check and every stated target holds
2     refused input (one line on stderr: the field, the value, the fix); nothing written
3     physically invalid: a limit violated at a realised or planned AC point, or a
      grid-infeasible interval (outputs written, ``summary.json`` says which)
4     ran, physically valid, but missed a target the command states (outputs written)
130   interrupted (Ctrl-C or SIGTERM); partial results removed, resumable runs keep theirs
====  ==================================================================================

3 outranks 4. A **report** check is a property the run does not claim: a comparison's variant
(``dispatch --method all``: the scenario approximation is shown failing on purpose) or a
diagnostic that is neither physics nor a stated goal (``simulate``: the α package's lower bound
above the network, where the published boundary is capped anyway and the vehicles' own
must-charge is the validity check): a miss is named on the console and in ``summary.json`` but
leaves the exit code alone. The console's first
line leads with :meth:`Verdict.lead` (``OK``,
``PHYSICALLY INVALID: …``, ``TARGET MISSED: …``) and ``summary.json`` carries
:meth:`Verdict.as_dict` (``verdict``, ``exit_code``, ``failed_checks``, ``checks``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_INVALID = 3
EXIT_TARGET = 4
EXIT_INTERRUPTED = 130

CONTRACT_TEXT = """\
Exit codes (every command):
  0    ran, and every validity check and every target the command states holds
  2    refused input: one line on stderr naming the field, the value and the fix; nothing written
  3    PHYSICALLY INVALID: a limit violated at a realised or planned AC operating point, or a
       grid-infeasible interval (must-charge load the network cannot carry); outputs written
  4    TARGET MISSED: ran and physically valid, but a target the command states was missed
       (equilibrium gap, chance-constraint risk out of sample, alpha coverage, calls
       undelivered beyond 1 %, ...); outputs written
  130  interrupted (Ctrl-C); partial outputs removed (montecarlo keeps finished replicates)
The first console line leads with the verdict (OK, PHYSICALLY INVALID: ..., TARGET MISSED:
...); summary.json carries verdict, exit_code and failed_checks.
"""

Kind = Literal["validity", "target", "report"]

LABELS = {EXIT_OK: "OK", EXIT_INPUT: "REFUSED INPUT", EXIT_INVALID: "PHYSICALLY INVALID",
          EXIT_TARGET: "TARGET MISSED", EXIT_INTERRUPTED: "INTERRUPTED"}


def label_of(exit_code: int) -> str:
    """The verdict's name for an exit code (``OK``, ``PHYSICALLY INVALID``, ...)."""
    return LABELS.get(exit_code, f"exit {exit_code}")


@dataclass(frozen=True)
class Check:
    """One validity check or stated target and its outcome.

    Attributes:
        name: Short stable identifier (``ac_limits``, ``equilibrium_gap``, …).
        kind: ``validity`` (a physical limit; failing it means exit 3), ``target`` (a goal
            the command states; failing it means exit 4) or ``report`` (named when it fails,
            exit code unchanged).
        passed: Whether it holds.
        detail: What was measured against what, for a reader (``gap 0.218 > 0.01``).
    """

    name: str
    kind: Kind
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        """The ``summary.json`` entry."""
        return {"name": self.name, "kind": self.kind, "passed": self.passed,
                "detail": self.detail}


def validity(name: str, passed: bool, detail: str) -> Check:
    """A physical validity check (failing it means exit 3)."""
    return Check(name, "validity", bool(passed), detail)


def target(name: str, passed: bool, detail: str) -> Check:
    """A target the command states (failing it means exit 4)."""
    return Check(name, "target", bool(passed), detail)


def report(name: str, passed: bool, detail: str) -> Check:
    """A property the run does not claim (a compared variant's, or a diagnostic): named when it
    fails, exit code unchanged."""
    return Check(name, "report", bool(passed), detail)


@dataclass(frozen=True)
class Verdict:
    """The checks of one run and what they mean for its exit code (module docstring)."""

    checks: tuple[Check, ...]

    @classmethod
    def of(cls, checks: Iterable[Check]) -> Verdict:
        """A verdict over ``checks``."""
        return cls(tuple(checks))

    @property
    def failed(self) -> tuple[Check, ...]:
        """The checks that do not hold."""
        return tuple(c for c in self.checks if not c.passed)

    @property
    def invalid(self) -> bool:
        """A validity check failed."""
        return any(c.kind == "validity" for c in self.failed)

    @property
    def missed(self) -> bool:
        """A stated target was missed."""
        return any(c.kind == "target" for c in self.failed)

    @property
    def exit_code(self) -> int:
        """3 if physically invalid, else 4 if a target was missed, else 0."""
        if self.invalid:
            return EXIT_INVALID
        return EXIT_TARGET if self.missed else EXIT_OK

    @property
    def label(self) -> str:
        """``OK``, ``PHYSICALLY INVALID`` or ``TARGET MISSED``."""
        return label_of(self.exit_code)

    def lead(self) -> str:
        """The verdict that leads the first console line.

        ``OK``; or ``PHYSICALLY INVALID: <failed validity checks>`` (then ``; TARGET MISSED:
        <failed targets>`` if any); or ``TARGET MISSED: <failed targets>``.
        """
        bad_v = [c.detail for c in self.failed if c.kind == "validity"]
        bad_t = [c.detail for c in self.failed if c.kind == "target"]
        noted = [c.detail for c in self.failed if c.kind == "report"]
        parts = []
        if bad_v:
            parts.append("PHYSICALLY INVALID: " + "; ".join(bad_v))
        if bad_t:
            parts.append("TARGET MISSED: " + "; ".join(bad_t))
        text = " | ".join(parts) if parts else "OK"
        if noted:
            text += " (not claimed, missed: " + "; ".join(noted) + ")"
        return text

    def as_dict(self) -> dict[str, object]:
        """The ``summary.json`` entries (verdict, exit code, failed and all checks)."""
        return {"verdict": self.label, "exit_code": self.exit_code,
                "failed_checks": [c.name for c in self.failed if c.kind != "report"],
                "noted_checks": [c.name for c in self.failed if c.kind == "report"],
                "checks": [c.as_dict() for c in self.checks]}


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Wilson score interval of a binomial share (``scipy.stats.binomtest``).

    .. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Args:
        successes: Count of successes, ``0 <= successes <= n``.
        n: Trials; ``n = 0`` gives ``(0, 1)`` (nothing is known).
        confidence: Two-sided level.

    Returns:
        ``(low, high)``, inside ``[0, 1]``.
    """
    if n <= 0:
        return 0.0, 1.0
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence,
                                                         method="wilson")
    low = 0.0 if successes <= 0 else max(0.0, float(ci.low))  # exact ends
    high = 1.0 if successes >= n else min(1.0, float(ci.high))
    return low, high
