"""report.pdf by the real WeasyPrint, read back as pages (issue 20, item 5).

The report's content of the other report tests (two epochs, 25 figures; one
epoch, 11) is written by :func:`carbonsink.report.html.write_report` with a
PDF, rasterised with poppler's ``pdftoppm`` and laid out again to find the
page of every heading, of what follows it and of its first figure.

The page budget is computed, not pasted: the print CSS gives a figure at most
10.4 cm of a 26.7 cm high A4 text block (297 mm − 15 mm − 16 mm margins), so a
page holds at most two figures and the figures need at least ⌈F / 2⌉ pages;
the text needs the pages of the same report with its figures taken out (T).
Within ⌈F / 2⌉ + T + 2 the layout wastes at most two pages on keeping headings
with their figures; the layout of stop 39 (one map per page) needed 43 pages
for the sample survey's 28 figures.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from carbonsink import i18n
from carbonsink.report import ReportContent
from carbonsink.report.html import render_report, write_report
from tests.report.pdf_pages import paginate, pdf_page_images, weasyprint_or_skip

pytestmark = pytest.mark.slow


def _cjk_font_installed() -> bool:
    from carbonsink.report.fonts import cjk_families

    return bool(cjk_families())


def _pdftotext(pdf: Path, page: int) -> str:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: apt-get install poppler-utils")
    result = subprocess.run(
        [pdftotext, "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


@pytest.fixture(
    scope="module",
    params=[(True, "en"), (False, "en"), (True, "zh-CN")],
    ids=["two epochs", "one epoch", "two epochs in Chinese"],
)
def printed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ReportContent, Path, list[np.ndarray]]:
    """The report written as HTML and PDF by write_report, and the PDF's pages as images."""
    from tests.report.sample_report import build_content

    weasyprint_or_skip()
    two_epochs, language = request.param
    if language != "en" and not _cjk_font_installed():
        pytest.skip("no CJK font for the Chinese PDF: apt-get install fonts-wqy-microhei")
    content = dataclasses.replace(build_content(two_epochs=two_epochs), language=language)
    folder = tmp_path_factory.mktemp("pdf")
    html, pdf = folder / "report.html", folder / "report.pdf"
    assert write_report(content, html, pdf_path=pdf) == [html, pdf]
    return content, pdf, pdf_page_images(pdf, folder)


def test_the_pdf_is_a_pdf_whose_every_page_has_ink(
    printed: tuple[ReportContent, Path, list[np.ndarray]],
) -> None:
    _, pdf, pages = printed
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pages, "pdftoppm rendered no page"
    for number, image in enumerate(pages, start=1):
        # Grey levels 0–255, 30 dpi: above the foot (16 mm = 19 px, the page number's
        # margin), a page with any text or figure has pixels darker than mid-grey; a blank
        # page has none.
        body = image[: image.shape[0] - 19]
        assert (body < 128).sum() >= 20, f"page {number} is blank"


def test_every_page_says_which_page_of_how_many_it_is(
    printed: tuple[ReportContent, Path, list[np.ndarray]],
) -> None:
    content, pdf, pages = printed
    # "page {page} of {pages}" in the report's language (the catalog's translation).
    footer = i18n.translations(content.language).gettext("page {page} of {pages}")
    for number in range(1, len(pages) + 1):
        text = " ".join(_pdftotext(pdf, number).split())
        assert " ".join(footer.format(page=number, pages=len(pages)).split()) in text


def test_the_page_count_is_within_what_the_figures_and_text_need(
    printed: tuple[ReportContent, Path, list[np.ndarray]],
) -> None:
    content, _, pages = printed
    html = render_report(content)
    figures = html.count("<figure>")
    text_only, _ = paginate(re.sub(r"<figure>.*?</figure>", "", html, flags=re.S))
    text_pages = len(text_only.pages)
    least = math.ceil(figures / 2)
    assert least <= len(pages) <= least + text_pages + 2, (figures, text_pages, len(pages))


def test_no_heading_is_split_from_what_it_introduces_or_from_its_figure(
    printed: tuple[ReportContent, Path, list[np.ndarray]],
) -> None:
    content, _, pages = printed
    document, places = paginate(render_report(content))
    assert len(document.pages) == len(pages)  # the same layout as the PDF written
    assert len(places) > 20
    assert sum(p.figure_page is not None for p in places) >= 8
    split = [
        p
        for p in places
        if p.next_page not in (None, p.page) or p.figure_page not in (None, p.page)
    ]
    assert split == []


def test_a_heading_at_the_foot_of_a_page_is_found() -> None:
    # The check itself: a heading pushed to the bottom of page 1 by a tall block, with
    # break-after allowed, lands on a page before its figure.
    weasyprint_or_skip()
    html = (
        "<html><head><style>@page { size: A4; margin: 15mm }"
        " h3 { break-after: auto } figure { break-inside: avoid }</style></head><body>"
        '<div style="height: 24cm"></div><h3>Heading</h3>'
        '<figure><div style="height: 10cm; background: #000"></div></figure>'
        "</body></html>"
    )
    _, places = paginate(html)
    (place,) = places
    assert (place.page, place.next_page, place.figure_page) == (1, 2, 2)


def test_the_chinese_pdf_embeds_a_cjk_font_and_reads_as_chinese(
    printed: tuple[ReportContent, Path, list[np.ndarray]],
) -> None:
    content, pdf, _ = printed
    if content.language == "en":
        pytest.skip("the English report")
    pdffonts = shutil.which("pdffonts")
    if pdffonts is None:
        pytest.skip("pdffonts (poppler-utils) is not installed: apt-get install poppler-utils")
    fonts = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True, check=True)
    embedded = [line for line in fonts.stdout.splitlines()[2:] if " yes " in line]
    from carbonsink.report.fonts import CJK_FAMILIES

    cjk = {family.replace(" ", "-") for family in CJK_FAMILIES}
    assert any(any(name in line for name in cjk) for line in embedded), fonts.stdout
    # The first page holds the subtitle and the claim's headings, as the catalog has them.
    catalog = i18n.translations("zh-CN")
    first = " ".join(_pdftotext(pdf, 1).split())
    for text in ("Carbon-sink measurement and carbon-credit claim", "The claim at a glance"):
        assert catalog.gettext(text) != text
        assert catalog.gettext(text) in first
