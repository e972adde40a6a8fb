"""Pure, vectorised flexibility set math (station layer).

Sign convention (used everywhere in this project): **charging is positive**. A net power
``p_kw = p_ch_kw - p_dis_kw`` above zero draws energy from the grid. Envelope tables report
``p_ch_max_kw`` and ``p_dis_max_kw`` as non-negative magnitudes; the signed bounds of the net
power are ``p_max_kw`` (most charging) and ``p_min_kw`` (most discharging, negative).

Arrays are laid out as ``(..., vehicle, interval)``: any leading axes (scenarios, stations) are
broadcast, the vehicle axis is summed by aggregation, and the interval axis is time.
"""

from flexibility.fleet import Fleet

__all__ = ["Fleet"]
