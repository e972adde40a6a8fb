"""The typed ``summary.json`` of every command: one frozen dataclass per command, one writer.

``base`` holds the writer (schema version, verdict first) and the ``CommandSummary`` protocol;
each other module one command's summary: ``simulate``, ``traffic``, ``dispatch``, ``zonal``,
``montecarlo``, ``assess``, ``region``, ``reproduce``. The console lines, the figures and the
reproduction pages read their attributes, never dict keys. Everything is importable from here.
"""

from __future__ import annotations

from environment.summaries.assess import (
    AlphaRow,
    AssessSummary,
    LayerMetrics,
)
from environment.summaries.base import (
    SCHEMA_VERSION,
    CommandSummary,
    summary_document,
    to_json,
    write_summary,
)
from environment.summaries.dispatch import (
    DispatchSummary,
    UncertaintySummary,
    VariantSummary,
)
from environment.summaries.montecarlo import (
    MetricSummary,
    MonteCarloSummary,
    SweepPointSummary,
    SweepSummary,
)
from environment.summaries.region import (
    BudgetRegion,
    RegionGridCheck,
    RegionModelSummary,
    RegionSummary,
    ResponseRegion,
    TierValidation,
)
from environment.summaries.reproduce import (
    PaperResult,
    PaperRunNote,
    ReproduceSummary,
)
from environment.summaries.simulate import (
    DayAheadInfo,
    FeederInfo,
    SimulateSummary,
)
from environment.summaries.traffic import (
    TrafficSummary,
)
from environment.summaries.zonal import (
    AggregationLayerSummary,
    CostParts,
    PartitionScores,
    ZonalAc,
    ZonalSummary,
)

__all__ = [
    "SCHEMA_VERSION",
    "AggregationLayerSummary",
    "AlphaRow",
    "AssessSummary",
    "BudgetRegion",
    "CommandSummary",
    "CostParts",
    "DayAheadInfo",
    "DispatchSummary",
    "FeederInfo",
    "LayerMetrics",
    "MetricSummary",
    "MonteCarloSummary",
    "PaperResult",
    "PaperRunNote",
    "PartitionScores",
    "RegionGridCheck",
    "RegionModelSummary",
    "RegionSummary",
    "ReproduceSummary",
    "ResponseRegion",
    "SimulateSummary",
    "SweepPointSummary",
    "SweepSummary",
    "TierValidation",
    "TrafficSummary",
    "UncertaintySummary",
    "VariantSummary",
    "ZonalAc",
    "ZonalSummary",
    "summary_document",
    "to_json",
    "write_summary",
]
