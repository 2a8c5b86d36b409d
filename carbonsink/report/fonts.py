"""Fonts for the report's languages: Chinese figures need a CJK font beside DejaVu Sans.

Matplotlib draws the figures' titles and labels into the PNGs, so a Chinese
report needs a font with CJK glyphs there; the HTML and the PDF take theirs from
the CSS font list (the browser's or WeasyPrint's fontconfig fallback).
:func:`figure_fonts` puts the first CJK family installed after DejaVu Sans,
glyph by glyph (matplotlib ≥ 3.6 falls back along ``font.family``). Without
one, it says so in the log and in :data:`MISSING_CJK_FONT`'s fix; the figures
then show boxes for Chinese characters but every number is still right.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import threading
import warnings
from collections.abc import Iterator
from typing import Final

__all__ = ["CJK_FAMILIES", "MISSING_CJK_FONT", "cjk_families", "figure_fonts"]

logger = logging.getLogger(__name__)

#: CJK sans-serif families, in order of preference (Linux, macOS, Windows).
CJK_FAMILIES: Final = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "PingFang SC",
    "Microsoft YaHei",
    "SimHei",
)
#: What to install when no CJK family is found.
MISSING_CJK_FONT: Final = (
    "install a CJK font: Debian/Ubuntu apt-get install fonts-noto-cjk (or fonts-wqy-microhei); "
    "macOS and Windows have PingFang SC and Microsoft YaHei"
)


def cjk_families() -> list[str]:
    """The families of :data:`CJK_FAMILIES` that matplotlib finds on this machine.

    Matplotlib lists the fonts it found when its cache was built; a CJK font
    installed since is looked up with fontconfig (``fc-list :lang=zh``) and added.

    Returns
    -------
    list of str
        The families found, in :data:`CJK_FAMILIES`' order of preference.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = _known(manager)
    if not found:
        for path in _fontconfig_cjk_files():
            with contextlib.suppress(Exception):  # a file matplotlib cannot read is skipped
                manager.addfont(path)
        found = _known(manager)
    return found


def _known(manager: object) -> list[str]:
    installed = {font.name for font in getattr(manager, "ttflist", [])}
    return [family for family in CJK_FAMILIES if family in installed]


def _fontconfig_cjk_files() -> list[str]:
    """The font files fontconfig lists for Chinese, ``[]`` without fontconfig."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        listed = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = (line.strip().rstrip(":") for line in listed.splitlines())
    return sorted({f for f in files if f.lower().endswith((".ttf", ".ttc", ".otf"))})


#: Matplotlib's settings and loggers are the process's: one CJK block at a time.
_LOCK = threading.Lock()


@contextlib.contextmanager
def figure_fonts(language: str) -> Iterator[list[str]]:
    """Inside the block, figures use DejaVu Sans, then a CJK family for a CJK language.

    Matplotlib's ``font.family`` is global to the process, so the blocks of a CJK
    language run one at a time (a second waits for the first); English changes nothing.

    Parameters
    ----------
    language
        The report's language (:data:`carbonsink.i18n.LANGUAGES`).

    Yields
    ------
    list of str
        The ``font.family`` list in force inside the block.
    """
    import matplotlib

    if not language.startswith("zh"):
        yield list(matplotlib.rcParams["font.family"])
        return
    with _LOCK:
        found = cjk_families()
        if not found:
            logger.warning(
                "no CJK font found: the report's figures will show boxes for Chinese "
                "characters — fix: %s",
                MISSING_CJK_FONT,
            )
        families = ["DejaVu Sans", *found[:1]]
        # A CJK family without a bold face is used at regular weight for bold titles, and
        # without a CJK font every character is a missing glyph: matplotlib says so for
        # every figure, which the warning above already told.
        font_log = logging.getLogger("matplotlib.font_manager")
        level = font_log.level
        font_log.setLevel(logging.ERROR)
        try:
            with matplotlib.rc_context({"font.family": families}), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
                yield families
        finally:
            font_log.setLevel(level)
