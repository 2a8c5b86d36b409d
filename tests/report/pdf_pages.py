"""The report as PDF pages, by the real WeasyPrint: where each heading and figure lands.

:func:`paginate` renders a report page with WeasyPrint and says, for every
heading (``h1``–``h4``), the page it is on, the page of the element right
after it and the page of the first figure before the next heading. It tags
those elements with ids in WeasyPrint's own parsed tree and reads the pages'
anchors back (``Page.anchors``: the ids laid out on each page), so the
report's HTML is not changed. :func:`pdf_page_images` rasterises a PDF with
poppler's ``pdftoppm``, as a reader's viewer would.

Both skip the test, with the reason, when WeasyPrint cannot load (Pango
missing) or ``pdftoppm`` is not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HEADINGS = ("h1", "h2", "h3", "h4")


@dataclass(frozen=True)
class HeadingPlace:
    """Where a heading and what it introduces fall in the PDF (pages count from 1)."""

    text: str
    page: int
    next_page: int | None
    figure_page: int | None


def weasyprint_or_skip() -> Any:
    """WeasyPrint, or skip the test saying why it cannot be loaded."""
    try:
        import weasyprint
    except ImportError:
        pytest.skip('WeasyPrint is not installed: pip install -e ".[test]" installs it')
    except OSError as exc:  # Pango or its libraries are missing
        pytest.skip(
            f"WeasyPrint cannot load its system libraries ({exc}): apt-get install libpango-1.0-0"
        )
    return weasyprint


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def paginate(html: str) -> tuple[Any, list[HeadingPlace]]:
    """Render ``html`` with WeasyPrint: the document and every heading's place.

    Returns
    -------
    (weasyprint.Document, list of HeadingPlace)
        The rendered document (``write_pdf`` writes it) and one entry per
        heading in document order.
    """
    weasyprint = weasyprint_or_skip()
    source = weasyprint.HTML(string=html)
    root = source.etree_element
    order = [e for e in root.iter() if _local(e.tag)]
    index = {id(e): i for i, e in enumerate(order)}
    parents = {id(child): parent for parent in root.iter() for child in parent}

    def tag_id(element: Any, prefix: str) -> str:
        if not element.get("id"):
            element.set("id", f"pdfcheck-{prefix}-{index[id(element)]}")
        return str(element.get("id"))

    marks: list[tuple[str, str, str | None, str | None]] = []
    for element in order:
        if _local(element.tag) not in HEADINGS:
            continue
        parent = parents.get(id(element))
        siblings = [c for c in parent if _local(c.tag)] if parent is not None else []
        after = siblings[siblings.index(element) + 1 :] if element in siblings else []
        next_id = tag_id(after[0], "next") if after else None
        figure_id = None
        for later in order[index[id(element)] + 1 :]:
            tag = _local(later.tag)
            if tag in HEADINGS:
                break
            if tag == "figure":
                figure_id = tag_id(later, "figure")
                break
        text = " ".join("".join(element.itertext()).split())
        marks.append((text, tag_id(element, "heading"), next_id, figure_id))
    document = source.render()
    page_of: dict[str, int] = {}
    for number, page in enumerate(document.pages, start=1):
        for anchor in page.anchors:
            page_of.setdefault(anchor, number)
    places = [
        HeadingPlace(
            text=text,
            page=page_of[heading],
            next_page=page_of.get(next_id) if next_id else None,
            figure_page=page_of.get(figure_id) if figure_id else None,
        )
        for text, heading, next_id, figure_id in marks
    ]
    return document, places


def pdf_page_images(pdf: Path, folder: Path, *, dpi: int = 30) -> list[np.ndarray]:
    """Every page of ``pdf`` rasterised by ``pdftoppm`` (grey, 0–255), in page order."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: apt-get install poppler-utils")
    from PIL import Image

    subprocess.run(
        [pdftoppm, "-r", str(dpi), "-gray", "-png", str(pdf), str(folder / "page")],
        check=True,
        capture_output=True,
    )
    files = sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [np.asarray(Image.open(p)) for p in files]
