"""Shared fixtures.

Real-data tests read ``../shared/data`` relative to the project root (never a
copy inside the repository) and skip with a clear reason when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SAMPLE_SURVEY = PROJECT_ROOT / "sample_data" / "junshan" / "survey.toml"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public test files (../shared/data); skip when absent."""
    if not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.skip(
            f"real-data test: {SHARED_DATA} is absent (it exists in CI, not in a user's clone)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_survey() -> Path:
    """The committed synthetic survey's survey.toml."""
    if not SAMPLE_SURVEY.is_file():
        pytest.fail(f"{SAMPLE_SURVEY} is missing: run `carbonsink sample-data sample_data/junshan`")
    return SAMPLE_SURVEY
