"""The base of the survey file's models (:mod:`carbonsink.config`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["FrozenModel"]


class FrozenModel(BaseModel):
    """A survey-file table: unknown keys refused, frozen, text stripped of outer spaces."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
