"""The carbon-credit report: one self-contained HTML page (and a PDF when asked).

:func:`render_report` turns a :class:`~carbonsink.report.content.ReportContent`
into HTML with the Jinja2 template ``templates/report.html.j2``: every figure
is an inline ``data:image/png;base64`` URI and the CSS is inline, so the page
makes no request and can be archived or mailed as one file. Every string from
the inputs (survey name, class names, warnings, file paths) is escaped by the
template engine. :func:`write_report` writes it atomically (docs/design.md §5).

The report presents results only (docs/design.md §2): the sections and figures
come from :mod:`carbonsink.report.sections`, the tables from
:mod:`carbonsink.report.tables` and the number formats from
:mod:`carbonsink.report.formatting`.
"""

from __future__ import annotations

import functools
import importlib
import logging
from pathlib import Path
from types import ModuleType
from typing import Final

import jinja2

from carbonsink import i18n
from carbonsink.accounting.ledger import LEDGER_SCHEMA
from carbonsink.errors import ConfigError
from carbonsink.io.writers import atomic_path
from carbonsink.report.content import ReportContent
from carbonsink.report.fonts import figure_fonts
from carbonsink.report.formatting import (
    format_bytes,
    format_interval,
    format_number,
    format_percent,
)
from carbonsink.report.sections import report_context

__all__ = [
    "LEDGER_KEYS",
    "PDF_FIX",
    "REQUIRED_LAYERS",
    "TEMPLATE",
    "load_weasyprint",
    "render_report",
    "write_report",
]

logger = logging.getLogger(__name__)

#: The template the report is rendered from (in ``carbonsink/report/templates``).
TEMPLATE: Final = "report.html.j2"
#: Layers every epoch must have (see :class:`~carbonsink.report.content.EpochReport`).
REQUIRED_LAYERS: Final = (
    "landcover",
    "agb_mg_ha",
    "agb_lower_mg_ha",
    "agb_upper_mg_ha",
    "soc_mg_ha",
    "soc_sd_mg_ha",
    "carbon_mg_ha",
    "inside_boundary",
)
#: Top-level keys of the ledger the report reads (docs/ledger.md).
LEDGER_KEYS: Final = (
    "schema",
    "single_epoch",
    "epochs",
    "crediting_period",
    "profile",
    "pools",
    "claim",
    "project",
    "strata",
    "vintages",
    "monte_carlo",
    "warnings",
    "notes",
    "polygon",
)
#: How to get the optional PDF renderer.
PDF_FIX: Final = 'pip install "carbonsink[pdf]"'


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment: package templates, autoescaping, strict undefined names."""
    env = jinja2.Environment(
        extensions=["jinja2.ext.i18n"],
        loader=jinja2.PackageLoader("carbonsink.report", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2", "css"), default=True, default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Texts are looked up in the active language (carbonsink.i18n); {% trans %} blocks are
    # trimmed to one line each, so the catalog's texts do not depend on the template's layout.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.policies["ext.i18n.trimmed"] = True
    env.filters.update(
        num=format_number,
        pct=format_percent,
        interval=format_interval,
        bytesize=format_bytes,
    )
    return env


# ----------------------------------------------------------------- checks
def _check_content(content: ReportContent) -> None:
    """Refuse a content object that breaks the contract, naming everything missing.

    A malformed :class:`ReportContent` is a fault of the code that built it,
    not of the survey, hence ``ValueError`` (an internal error for the CLI).
    """
    problems = []
    missing_keys = [key for key in LEDGER_KEYS if key not in content.ledger]
    if missing_keys:
        problems.append(f"the ledger lacks the key(s) {missing_keys}")
    elif content.ledger["schema"] != LEDGER_SCHEMA:
        problems.append(
            f"the ledger's layout is {content.ledger['schema']!r}; the report reads "
            f"{LEDGER_SCHEMA!r}"
        )
    if not content.epochs:
        problems.append("there are no epochs")
    for epoch in content.epochs:
        absent = [name for name in REQUIRED_LAYERS if name not in epoch.layers]
        if absent:
            problems.append(f"epoch {epoch.name!r} lacks the layer(s) {absent}")
    if not missing_keys and not content.ledger["single_epoch"]:
        if content.change is None:
            problems.append("the ledger has two epochs but there is no change dataset")
        else:
            absent = [
                name
                for name in ("removals_t_co2e_ha_yr", "removals_sd_t_co2e_ha_yr")
                if name not in content.change
            ]
            if absent:
                problems.append(f"the change dataset lacks the layer(s) {absent}")
        if content.net_draws is None:
            problems.append("the ledger has two epochs but there are no net_draws")
    if problems:
        raise ValueError(
            "cannot build the report: "
            + "; ".join(problems)
            + " (fill ReportContent as documented in carbonsink/report/content.py)"
        )


# ----------------------------------------------------------------- public API
def render_report(content: ReportContent) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    content
        The results to present (filled by the pipeline).

    Returns
    -------
    str
        HTML with inline CSS and inline PNG figures (``data:`` URIs); no
        script and no external request.

    Raises
    ------
    ValueError
        ``content`` does not follow its contract (a ledger key, a layer or the
        change dataset is missing): a fault of the code that built it.
    ConfigError
        ``content.language`` is not a supported language.
    """
    _check_content(content)
    with i18n.language(content.language) as language, figure_fonts(language):
        context = report_context(content)
        html = _environment().get_template(TEMPLATE).render(language=language, **context)
    logger.debug("rendered the report of %r: %d characters", content.title, len(html))
    return html


def load_weasyprint() -> ModuleType:
    """Import WeasyPrint (the optional PDF renderer) or say how to install it (ConfigError)."""
    try:
        return importlib.import_module("weasyprint")
    except ImportError as exc:
        raise ConfigError(
            "a PDF report needs WeasyPrint, which is not installed",
            fix=PDF_FIX,
        ) from exc
    except OSError as exc:  # WeasyPrint raises OSError when Pango is missing
        raise ConfigError(
            f"a PDF report needs WeasyPrint, which cannot load its system libraries ({exc})",
            fix=f"{PDF_FIX} and install Pango (see WeasyPrint's installation guide)",
        ) from exc


def write_report(content: ReportContent, path: Path, *, pdf_path: Path | None = None) -> list[Path]:
    """Write the report as HTML, and as PDF when asked, atomically.

    Parameters
    ----------
    content
        The results to present.
    path
        The HTML file to write, e.g. ``OUT/report.html``.
    pdf_path
        Also render a PDF there with WeasyPrint (the optional extra ``pdf``).

    Returns
    -------
    list of Path
        The files written: the HTML, then the PDF.

    Raises
    ------
    ConfigError
        A PDF is asked but WeasyPrint cannot be imported; checked before
        anything is written.
    ValueError
        ``content`` does not follow its contract (see :func:`render_report`).
    OutputError
        A file cannot be written.

    Notes
    -----
    Both documents are rendered in memory before either is written, so a
    failure leaves no new file; each file is published by renaming a
    temporary file beside it (:func:`carbonsink.io.writers.atomic_path`).
    """
    html_path = Path(path)
    weasyprint = load_weasyprint() if pdf_path is not None else None
    html = render_report(content)
    pdf_bytes: bytes | None = None
    if weasyprint is not None:
        pdf_bytes = bytes(weasyprint.HTML(string=html).write_pdf())
    written = [html_path]
    with atomic_path(html_path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    if pdf_bytes is not None and pdf_path is not None:
        with atomic_path(pdf_path) as tmp:
            tmp.write_bytes(pdf_bytes)
        written.append(pdf_path)
    logger.info("wrote %s", ", ".join(str(p) for p in written))
    return written
