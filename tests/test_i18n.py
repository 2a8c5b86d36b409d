"""The report in Chinese (issue 20, item 4): the catalog is complete, the template has no
untranslatable text, and English stays the default.

The catalog is checked against the sources themselves: Babel extracts every marked text
(``babel.cfg``: ``_()``/``gettext``/``ngettext`` in Python, ``{% trans %}``/``_()`` in the
template) and each must be in ``carbonsink/locale/zh_CN/LC_MESSAGES/carbonsink.po``,
translated, not fuzzy, with the same placeholders; the catalog may hold nothing else.
The template's text outside the marked texts must be only numbers, units and symbols,
so a heading added without ``_()`` fails here.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from carbonsink import i18n
from carbonsink.errors import ConfigError
from tests.conftest import PROJECT_ROOT

PO = PROJECT_ROOT / "carbonsink" / "locale" / "zh_CN" / "LC_MESSAGES" / "carbonsink.po"
TEMPLATE = PROJECT_ROOT / "carbonsink" / "report" / "templates" / "report.html.j2"


def _extracted() -> dict[str, str | tuple[str, str]]:
    """Every marked text of the sources (msgid, or (singular, plural)), by Babel's extractors."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (PROJECT_ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    messages: dict[str, str | tuple[str, str]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT),
        method_map,
        options_map,
        keywords={"_": None, "N_": None, "deferred": None, "gettext": None, "ngettext": (1, 2)},
    ):
        key = message if isinstance(message, str) else message[0]
        messages[key] = message
    return messages


def _catalog():  # type: ignore[no-untyped-def]
    from babel.messages.pofile import read_po

    with PO.open("rb") as handle:
        return read_po(handle, locale="zh_CN", domain="carbonsink")


def _brace_fields(text: str) -> set[tuple[str, str, str]]:
    """Each ``{field!conversion:spec}`` of a str.format text: a translation keeps all three."""
    return {
        (field, spec or "", conversion or "")
        for _, field, spec, conversion in string.Formatter().parse(text)
        if field
    }


def test_every_marked_text_is_in_the_catalog_translated() -> None:
    extracted = _extracted()
    catalog = _catalog()
    # The report's template, the report's tables and figures, the terminal summary.
    assert len(extracted) > 200
    missing = [m for m in extracted if m not in catalog]
    assert missing == [], f"{len(missing)} texts are not in {PO.name}: run pybabel update"
    untranslated = [
        m.id
        for m in catalog
        if m.id and (m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string))
    ]
    assert untranslated == []
    stale = [
        m.id
        for m in catalog
        if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in extracted
    ]
    assert stale == [], "the catalog holds texts the sources no longer have"


def test_every_translation_keeps_the_placeholders() -> None:
    catalog = _catalog()
    # %(name)s placeholders (the template's texts): Babel's own check. Python's texts are
    # str.format ({name} fields, compared here), where a "% o" is a percent sign, not a
    # placeholder, though Babel flags it so.
    checked = [
        (m.id, errors)
        for m, errors in catalog.check()
        if "%(" in (m.id if isinstance(m.id, str) else m.id[0])
    ]
    assert checked == []
    for message in catalog:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        target = message.string if isinstance(message.string, str) else message.string[0]
        if "%(" not in source:
            assert _brace_fields(target) == _brace_fields(source), source


def test_the_template_has_no_text_outside_the_catalog() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    text = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)
    text = re.sub(r"{%-? *trans\b.*?endtrans *-?%}", " ", text, flags=re.S)
    text = re.sub(r"{{.*?}}|{%.*?%}|{#.*?#}", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9²]+", text))
    # What stays is the same in every language: units, gases, symbols, the registry's unit
    # (VCU, a Verra code) and the tool's name.
    units_and_symbols = {
        *("CO2e", "yr", "ha", "CH4", "N2O", "R²", "SHA", "VCU", "carbonsink", "DOCTYPE", "html")
    }
    assert words <= units_and_symbols, sorted(words - units_and_symbols)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("en", "en"), ("EN-us", "en"), ("zh-CN", "zh-CN"), ("zh_CN", "zh-CN"), ("zh-Hans", "zh-CN")],
)
def test_language_tags_name_a_supported_language(tag: str, expected: str) -> None:
    assert i18n.check_language(tag) == expected


def test_an_unsupported_language_says_which_ones_are() -> None:
    with pytest.raises(ConfigError, match=r"'fr'.*fix: use one of en \(English\), zh-CN"):
        i18n.check_language("fr")


def test_the_language_is_active_only_inside_its_block() -> None:
    assert i18n.active_language() == "en"
    assert i18n.gettext("Maps") == "Maps"
    with i18n.language("zh-CN"):
        translated = i18n.gettext("Maps")
        with i18n.language(None):  # None keeps the active language
            assert i18n.gettext("Maps") == translated
    assert translated == _catalog()["Maps"].string
    assert translated != "Maps"
    assert i18n.gettext("Maps") == "Maps"


def test_the_survey_file_chooses_the_language_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    from carbonsink.config import SurveySection

    base = {"name": "x", "crs": "EPSG:32649", "boundary": tmp_path / "b.geojson"}
    assert SurveySection(**base).language == "en"
    assert SurveySection(**base, language="zh_CN").language == "zh-CN"
    with pytest.raises(ValueError, match="'fr' is not one carbonsink's texts are written in"):
        SurveySection(**base, language="fr")


def test_the_language_changes_no_hash_of_the_run() -> None:
    # The run's stage key, survey sha256 and run sha256 (which the ledger carries) are the
    # same for the same survey in English and in Chinese.
    from carbonsink.config import load_survey
    from carbonsink.pipeline.context import RunContext
    from carbonsink.pipeline.run import _run_record, _stage_key
    from tests.conftest import SAMPLE_SURVEY

    survey = load_survey(SAMPLE_SURVEY)
    chinese = survey.model_copy(
        update={"survey": survey.survey.model_copy(update={"language": "zh-CN"})}
    )
    hashes = {"survey.toml": "0" * 64}
    contexts = [RunContext.build(s) for s in (survey, chinese)]
    assert contexts[1].survey.survey.language == "zh-CN"
    keys = [_stage_key(ctx, hashes) for ctx in contexts]
    records = [_run_record(ctx, hashes, SAMPLE_SURVEY.parent) for ctx in contexts]
    assert keys[0] == keys[1]
    assert records[0]["survey_sha256"] == records[1]["survey_sha256"]
    assert records[0]["run_sha256"] == records[1]["run_sha256"]
    # A setting that does change the numbers changes them all.
    other = RunContext.build(
        survey.model_copy(update={"survey": survey.survey.model_copy(update={"resolution": 20.0})})
    )
    assert _stage_key(other, hashes) != keys[0]
    assert (
        _run_record(other, hashes, SAMPLE_SURVEY.parent)["run_sha256"] != records[0]["run_sha256"]
    )


def test_the_chinese_report_escapes_what_it_shows_and_translates_every_figure() -> None:
    import dataclasses

    from carbonsink.report.html import render_report
    from tests.report.sample_report import EVIL, build_content, read_page

    content = dataclasses.replace(build_content(two_epochs=True), language="zh-CN")
    page = render_report(content)
    assert '<html lang="zh-CN">' in page
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    cjk = re.compile(r"[\u4e00-\u9fff]")
    alts = re.findall(r'<img src="data:[^"]*" alt="([^"]*)"', page)
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, flags=re.S)
    assert len(alts) == page.count("<figure>") > 20
    assert [a for a in alts if not cjk.search(a)] == []
    assert [c for c in captions if not cjk.search(c)] == []
    assert read_page(page).element_text("tradable-total") == read_page(
        render_report(dataclasses.replace(content, language="en"))
    ).element_text("tradable-total")


def test_sentences_keep_their_spaces_where_the_template_joins_them() -> None:
    # A block tag at a line's end eats the newline after it; where that newline was the
    # only space between two sentences, the English read ").vm0033" or "seed 3;converged".
    import html

    from carbonsink.report.html import render_report
    from tests.report.sample_report import build_content

    page = re.sub(
        r"<style>.*?</style>", "", render_report(build_content(two_epochs=True)), flags=re.S
    )
    # Tags become spaces: two paragraphs side by side are not a joined sentence.
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    joined = re.findall(r"[a-z)]\.[A-Za-z]{3,}|;[A-Za-z]", text)
    files = {".json", ".md", ".toml", ".csv", ".tif", ".gpkg", ".nc"}
    assert [j for j in joined if not any(j.endswith(f[1:]) or f in j for f in files)] == []


def test_no_text_is_marked_inside_an_f_string() -> None:
    # Babel's extractor cannot see _("...") inside an f-string's braces: such a text would be
    # missing from the catalog without the first test knowing.
    inside = re.compile(r"""\bf(["'])[^"'\n]*\{_\(""")
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in sorted((PROJECT_ROOT / "carbonsink").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if inside.search(line)
    ]
    assert found == []


def _binds_underscore(node: ast.AST) -> bool:
    """Whether ``node`` binds the name ``_`` in its own scope (not in a nested one)."""
    names: list[str] = []
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        arguments = node.args
        names += [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
        names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
    if isinstance(node, ast.comprehension):
        names += [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
    return "_" in names


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """The nodes of a scope, not descending into nested functions, lambdas or comprehensions."""
    out: list[ast.AST] = []
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, *_COMPREHENSIONS)
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        out.append(node)
        if not isinstance(node, nested):
            stack.extend(ast.iter_child_nodes(node))
    return out


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def test_no_function_shadows_the_translation_function() -> None:
    # ``for x, _ in ...``, a parameter ``_`` or ``except E as _`` makes ``_`` a local of the
    # whole scope: a ``_("…")`` in it then raises UnboundLocalError (or calls something
    # else) — only on the path that translates, so a test in English would not see it.
    found = []
    for path in sorted((PROJECT_ROOT / "carbonsink").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not any(
            isinstance(node, ast.ImportFrom) and any(a.asname == "_" for a in node.names)
            for node in ast.walk(tree)
        ):
            continue
        scopes: list[ast.AST] = [tree]
        scopes += [
            n
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, *_COMPREHENSIONS))
        ]
        for scope in scopes:
            own = _own_nodes(scope)
            generators = getattr(scope, "generators", [])
            binds = (
                any(_binds_underscore(g) for g in generators)
                or _binds_underscore(scope)
                or any(
                    isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)
                    for n in own
                    if not any(n in ast.walk(g.target) for g in generators)
                )
                or any(isinstance(n, ast.ExceptHandler) and n.name == "_" for n in own)
            )
            # A module-level ``_ = …`` rebinds it for every function of the module.
            searched = ast.walk(tree) if scope is tree else own
            calls = any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_"
                for n in searched
            )
            if binds and calls:
                name = getattr(scope, "name", type(scope).__name__)
                line = getattr(scope, "lineno", 1)
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{line} {name}")
    assert found == []


def test_a_message_is_english_when_said_and_translated_when_shown() -> None:
    # deferred: the English template with its fields; shown: the catalog's sentence with the
    # same fields, a nested message translated too; joined: items in order, each shown;
    # verbatim: a text with braces kept as it is in every language.
    said = i18n.deferred("{key} ({label})", key="agb", label=i18n.Message("above-ground biomass"))
    assert str(said) == "agb (above-ground biomass)"
    both = i18n.joined([said, "soc", 30])
    assert str(both) == "agb (above-ground biomass), soc, 30"
    raw = i18n.verbatim("a {brace} stays")
    assert str(raw) == "a {brace} stays"
    with i18n.language("zh-CN"):
        assert i18n.shown(said) == "agb（地上生物量）"
        assert i18n.shown(both) == "agb（地上生物量）, soc, 30"
        assert i18n.shown(raw) == "a {brace} stays"
        assert i18n.shown(12.5) == 12.5
        # An empty text (a stage's blank detection, an empty log line) is not the header.
        assert i18n.gettext("") == ""
        assert i18n.shown(i18n.verbatim("")) == ""
