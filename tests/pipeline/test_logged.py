"""A stage's WARNING lines become ledger warnings (issue 16 item 1)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from carbonsink import i18n
from carbonsink.i18n import Message, deferred, verbatim
from carbonsink.pipeline.stages.logged import LoggedLine, capture, logged_warnings


def _said(lines: Sequence[LoggedLine]) -> list[tuple[str, str]]:
    """The lines as the log showed them (English)."""
    return [(name, str(said)) for name, said in lines]


def test_capture_returns_the_value_and_the_warning_lines_in_order() -> None:
    def stage() -> int:
        logging.getLogger("carbonsink.biomass.bootstrap").warning("only %d blocks", 6)
        logging.getLogger("carbonsink.soil.soc_map").info("not a warning")
        logging.getLogger("carbonsink.pipeline.cache").warning("the run's own files")
        logging.getLogger("elsewhere").warning("another package")
        logging.getLogger("carbonsink.imagery.landcover").error("class x absent")
        return 42

    value, lines = capture(stage)()
    assert value == 42
    assert _said(lines) == [
        ("carbonsink.biomass.bootstrap", "only 6 blocks"),
        ("carbonsink.imagery.landcover", "class x absent"),
    ]
    assert not logging.getLogger("carbonsink").handlers or all(
        type(h).__name__ != "_Collector" for h in logging.getLogger("carbonsink").handlers
    )


def test_capture_keeps_warnings_when_the_package_logs_only_errors() -> None:
    """A notebook (or ``--quiet``) that set the package to ERROR still gets its ledger lines."""
    package = logging.getLogger("carbonsink")
    previous = package.level
    package.setLevel(logging.ERROR)
    try:
        _, lines = capture(lambda: logging.getLogger("carbonsink.soil.soc_map").warning("w"))()
        assert _said(lines) == [("carbonsink.soil.soc_map", "w")]
        assert package.level == logging.ERROR  # restored after the stage
    finally:
        package.setLevel(previous)


def test_a_quiet_root_handler_still_shows_only_what_it_showed() -> None:
    """A notebook's ``basicConfig(level=ERROR)``: the ledger gets the WARNING, the console not.

    The package passes WARNING while the stage runs; the root's handlers keep showing the
    package's ERROR lines and other loggers' records as before, and lose their filter after.
    """
    root, package = logging.getLogger(), logging.getLogger("carbonsink")
    shown: list[str] = []

    class Console(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.append(record.getMessage())

    console = Console()
    previous = root.level, package.level
    root.addHandler(console)
    root.setLevel(logging.ERROR)
    package.setLevel(logging.NOTSET)
    try:

        def stage() -> None:
            logging.getLogger("carbonsink.soil.soc_map").warning("quiet")
            logging.getLogger("carbonsink.imagery.landcover").error("loud")
            logging.getLogger("elsewhere").error("other")

        _, lines = capture(stage)()
        assert _said(lines) == [
            ("carbonsink.soil.soc_map", "quiet"),
            ("carbonsink.imagery.landcover", "loud"),
        ]
        assert shown == ["loud", "other"]
        assert not console.filters and package.level == logging.NOTSET
    finally:
        root.removeHandler(console)
        root.setLevel(previous[0])
        package.setLevel(previous[1])


def test_overlapping_captures_restore_the_level_once_the_last_ends() -> None:
    package = logging.getLogger("carbonsink")
    previous = package.level
    package.setLevel(logging.ERROR)
    try:

        def outer() -> tuple[LoggedLine, ...]:
            inner = capture(lambda: logging.getLogger("carbonsink.a").warning("inner"))()
            assert package.level == logging.WARNING  # the outer capture still runs
            logging.getLogger("carbonsink.b").warning("outer")
            return inner[1]

        inner_lines, outer_lines = capture(outer)()
        assert _said(inner_lines) == [("carbonsink.a", "inner")]
        assert ("carbonsink.b", "outer") in _said(outer_lines)
        assert package.level == logging.ERROR
    finally:
        package.setLevel(previous)


def test_logged_lines_get_codes_effects_and_are_not_repeated() -> None:
    said = [
        ("carbonsink.biomass.bootstrap", "AGB bootstrap: only 6 blocks of 1010.9 m hold plots"),
        ("carbonsink.biomass.bootstrap", "AGB bootstrap: only 6 blocks of 1010.9 m hold plots"),
        # Stated by the ledger's own outside-aoa and scene-dropped warnings: left out.
        ("carbonsink.biomass.agb_map", "1261 cells are outside the area of applicability of"),
        ("carbonsink.imagery.composite", "scene s2.tif left out of the composite: cloudy"),
        ("carbonsink.somewhere.new", "something odd"),
    ]
    lines = [(name, verbatim(text)) for name, text in said]
    warnings = logged_warnings(verbatim("epoch 2025 AGB bootstrap"), lines)
    assert [w.code for w in warnings] == ["bootstrap-coarse", "stage-warning"]
    assert warnings[0].where == "epoch 2025 AGB bootstrap"
    assert warnings[0].message.startswith("AGB bootstrap: only 6 blocks")
    assert "enters the claim only in strata without a residual correction" in warnings[0].message
    assert warnings[1].message == "something odd"


def test_a_logged_message_is_said_in_the_language_of_the_ledger() -> None:
    # Issue 20: a stage logs a Message; the log shows it in English, the cache keeps its
    # template and fields, and the ledger's warning is in the run's language — also when
    # the stage ran (and was cached) under another language.
    def stage() -> None:
        logging.getLogger("carbonsink.biomass.bootstrap").warning(
            deferred(
                "AGB bootstrap: only {n} blocks of {size:g} m hold plots; the bootstrap "
                "distribution is coarse and its spread biased low",
                n=6,
                size=349.759,
            )
        )
        logging.getLogger("carbonsink.soil.soc_map").warning("%d of %d points", 2, 40)

    from carbonsink.pipeline.cache_codec import decode, encode

    # Captured in an English run, kept in its cache, read back by a Chinese one.
    _, captured = capture(stage)()
    lines = decode(*encode(captured))
    assert lines == captured
    assert isinstance(lines[0][1], Message)
    english = str(lines[0][1])
    assert english == (
        "AGB bootstrap: only 6 blocks of 349.759 m hold plots; the bootstrap distribution is "
        "coarse and its spread biased low"
    )
    assert str(lines[1][1]) == "2 of 40 points"  # a %-format line is kept as it was said
    where = deferred("epoch {name} AGB bootstrap", name="2025")
    english_warnings = logged_warnings(where, lines)
    with i18n.language("zh-CN"):
        chinese = logged_warnings(where, lines)
    catalog = i18n.translations("zh-CN")
    # The catalog's sentence with the same numbers, then the effect on the claim.
    sentence = catalog.gettext(lines[0][1].template).format(n=6, size=349.759)
    assert "349.759" in sentence and sentence != english
    effect = catalog.gettext(
        "its spread enters the claim only in strata without a residual correction: each "
        "mapped stratum's AGB error is that of its correction (docs/methodology.md §6.4)"
    )
    assert chinese[0].message == f"{sentence}；{effect}"
    assert chinese[0].where == "监测时点 2025 AGB 自助法"
    assert english_warnings[0].message.startswith(english + "; its spread enters")
    assert english_warnings[0].where == "epoch 2025 AGB bootstrap"
    assert [w.code for w in chinese] == [w.code for w in english_warnings]
    assert chinese[1].message == "2 of 40 points"
