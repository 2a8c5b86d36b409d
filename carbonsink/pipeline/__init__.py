"""Wiring of the stages for a survey (docs/design.md §4): one context, registries, one orchestrator.

Only this package and :mod:`carbonsink.cli` combine the survey file with the
science packages; those never parse the survey.

- :mod:`~carbonsink.pipeline.context`: :class:`RunContext` — survey, grid,
  inside mask, seed, profile, executor — built once per run;
- :mod:`~carbonsink.pipeline.outputs`: :data:`OUTPUTS`, every file a run or
  a stage command writes, the only place a file name is made;
- :mod:`~carbonsink.pipeline.stages`: one thin module per stage;
- :mod:`~carbonsink.pipeline.run`: :func:`run_survey`, the one
  orchestrator, with or without writing.
"""

from carbonsink.pipeline.context import ProgressCallback, RunContext, find_epoch
from carbonsink.pipeline.executors import local_executor, run_executor
from carbonsink.pipeline.outputs import OUTPUTS, Output, OutputFolder
from carbonsink.pipeline.run import RunResult, run_survey
from carbonsink.pipeline.stages import (
    EpochBiomass,
    EpochCube,
    EpochResults,
    epoch_biomass,
    epoch_composite,
    epoch_core_stocks,
    epoch_cube,
    epoch_landcover,
    epoch_plots,
    epoch_results,
    epoch_scenes,
    epoch_soc_map,
)

__all__ = [
    "OUTPUTS",
    "EpochBiomass",
    "EpochCube",
    "EpochResults",
    "Output",
    "OutputFolder",
    "ProgressCallback",
    "RunContext",
    "RunResult",
    "epoch_biomass",
    "epoch_composite",
    "epoch_core_stocks",
    "epoch_cube",
    "epoch_landcover",
    "epoch_plots",
    "epoch_results",
    "epoch_scenes",
    "epoch_soc_map",
    "find_epoch",
    "local_executor",
    "run_executor",
    "run_survey",
]
