"""The synthetic survey generator: a Junshan-like wetland survey with known truth.

:func:`generate_survey` writes imagery, LiDAR, plots, soil cores, land-cover
samples, ``survey.toml``, a README and the truth (docs/design.md §8). Modules:
:mod:`~carbonsink.synthetic.parameters` (documented site parameters),
:mod:`~carbonsink.synthetic.landscape` (boundary, terrain, the epochs' truth),
:mod:`~carbonsink.synthetic.vegetation` (class zoning, biomass, canopy; the planted loss),
:mod:`~carbonsink.synthetic.sediment` (soil: deposition, compaction, carbon gain),
:mod:`~carbonsink.synthetic.dead_matter` (dead organic matter),
:mod:`~carbonsink.synthetic.imagery`, :mod:`~carbonsink.synthetic.lidar`,
:mod:`~carbonsink.synthetic.fieldwork`, :mod:`~carbonsink.synthetic.truth`
and :mod:`~carbonsink.synthetic.survey` (orchestration).
"""

from __future__ import annotations

from carbonsink.synthetic.survey import DEFAULT_SEED, SurveySummary, generate_survey

__all__ = ["DEFAULT_SEED", "SurveySummary", "generate_survey"]
