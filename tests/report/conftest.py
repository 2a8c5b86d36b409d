"""Fixtures of the report tests: the content of two epochs and of one, and their pages."""

from __future__ import annotations

import pytest

from carbonsink.report import ReportContent, render_report
from tests.report.sample_report import build_content


@pytest.fixture(scope="module")
def content() -> ReportContent:
    return build_content(two_epochs=True)


@pytest.fixture(scope="module")
def page(content: ReportContent) -> str:
    return render_report(content)


@pytest.fixture(scope="module")
def single_content() -> ReportContent:
    return build_content(two_epochs=False, title="Junshan 2020")


@pytest.fixture(scope="module")
def single_page(single_content: ReportContent) -> str:
    return render_report(single_content)
