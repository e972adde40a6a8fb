"""Envelope metrics: peaks and area (paper §4.1, Figure 5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexibility.aggregation import Envelope


@dataclass(frozen=True)
class EnvelopeMetrics:
    """Headline numbers of one envelope.

    Attributes:
        peak_ch_kw: ``max_t P_ch,max``.
        peak_dis_kw: ``max_t P_dis,max``.
        area_kwh: ``sum_t (P_ch,max + P_dis,max) dt`` — the feasible-region area.
    """

    peak_ch_kw: float
    peak_dis_kw: float
    area_kwh: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON output."""
        return {"peak_ch_kw": self.peak_ch_kw, "peak_dis_kw": self.peak_dis_kw,
                "area_kwh": self.area_kwh}


def envelope_metrics(env: Envelope) -> EnvelopeMetrics:
    """Peaks and area of a single envelope (arrays of shape ``(T,)``)."""
    ch, dis = env.p_ch_max_kw, env.p_dis_max_kw
    if ch.ndim != 1:
        raise ValueError("envelope_metrics takes one envelope; reduce scenario axes first")
    return EnvelopeMetrics(
        peak_ch_kw=float(ch.max(initial=0.0)),
        peak_dis_kw=float(dis.max(initial=0.0)),
        area_kwh=float(np.sum(ch + dis) * env.dt_h),
    )


def absolute_percentage_deviation(value: float, reference: float) -> float:
    """APD in percent, ``100 |value - reference| / |reference|`` (0 when both are 0)."""
    if reference == 0:
        return 0.0 if value == 0 else float("inf")
    return 100.0 * abs(value - reference) / abs(reference)
