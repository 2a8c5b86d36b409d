"""The languages of what people read: the report, the terminal summary, the ledger's texts.

English is the source language: every text is written in English in the code
and the report's template, marked for translation (``_("…")`` in Python,
``{% trans %}``/``_()`` in the template), and looked up in the message catalog
of the active language — ``carbonsink/locale/<lang>/LC_MESSAGES/carbonsink.po``,
compiled in memory with Babel on first use. ``pybabel extract -F babel.cfg
-k deferred`` lists every marked text; ``tests/test_i18n.py`` fails when one is missing from
a catalog, untranslated or fuzzy.

The active language is a context variable (:func:`language`), so a run's
report can be rendered in Chinese while the log stays English, and threads or
concurrent renders do not see each other's language (the figures' fonts are
the process's, so Chinese figures are drawn one report at a time,
:func:`carbonsink.report.fonts.figure_fonts`). Files, keys and codes
(``ledger.json``'s keys, warning codes, class names) are never translated.

What a cached stage says — the warnings it logs, its choice of model — is
translated when shown, not when said: it is kept as a :class:`Message` (the
English template and its fields, made by :func:`deferred`), so a stage read
back from the cache, or computed on a Dask worker, speaks the language of the
run that shows it.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from gettext import NullTranslations
from importlib import resources
from typing import Final, Union

from carbonsink.errors import ConfigError

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "Message",
    "active_language",
    "check_language",
    "deferred",
    "gettext",
    "joined",
    "language",
    "ngettext",
    "shown",
    "translations",
    "verbatim",
]

#: Language tag (BCP 47) → its name in the language itself.
LANGUAGES: Final = {"en": "English", "zh-CN": "简体中文"}
DEFAULT_LANGUAGE: Final = "en"
#: The gettext domain: carbonsink/locale/<locale>/LC_MESSAGES/carbonsink.po.
DOMAIN: Final = "carbonsink"

_ACTIVE: ContextVar[str] = ContextVar("carbonsink_language", default=DEFAULT_LANGUAGE)


def check_language(tag: str) -> str:
    """The supported language a tag names (``zh_CN``, ``zh-cn`` and ``zh-Hans`` are ``zh-CN``).

    Parameters
    ----------
    tag
        A language tag as a user writes it (BCP 47 or a gettext locale).

    Returns
    -------
    str
        The key of :data:`LANGUAGES` it names.

    Raises
    ------
    ConfigError
        The tag names no supported language (the message lists them).
    """
    key = tag.strip().replace("_", "-").lower()
    aliases = {"en": "en", "en-us": "en", "en-gb": "en", "zh": "zh-CN", "zh-cn": "zh-CN"}
    aliases |= {"zh-hans": "zh-CN", "zh-hans-cn": "zh-CN", "zh-sg": "zh-CN"}
    if key in aliases:
        return aliases[key]
    raise ConfigError(
        f"the language {tag!r} is not one carbonsink's texts are written in",
        fix="use one of " + ", ".join(f"{k} ({v})" for k, v in LANGUAGES.items()),
    )


def _locale_folder(tag: str) -> str:
    return tag.replace("-", "_")


@functools.cache
def translations(tag: str) -> NullTranslations:
    """The compiled message catalog of a language (English: the texts as written).

    Parameters
    ----------
    tag
        A supported language (:func:`check_language`).

    Returns
    -------
    gettext.NullTranslations
        Its catalog (cached: compiled once per process).

    Raises
    ------
    ConfigError
        The language is not supported.
    """
    tag = check_language(tag)
    if tag == DEFAULT_LANGUAGE:
        return NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    source = resources.files("carbonsink") / "locale" / _locale_folder(tag) / "LC_MESSAGES"
    with (source / f"{DOMAIN}.po").open("rb") as handle:
        catalog = read_po(handle, locale=_locale_folder(tag), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def active_language() -> str:
    """The language texts are translated into now (:func:`language` sets it)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def language(tag: str | None) -> Iterator[str]:
    """Translate into ``tag`` (``None``: keep the active language) inside the block.

    Parameters
    ----------
    tag
        A language tag (:func:`check_language`), or ``None``.

    Yields
    ------
    str
        The language in force inside the block.

    Raises
    ------
    ConfigError
        The language is not supported.
    """
    chosen = check_language(tag) if tag is not None else _ACTIVE.get()
    translations(chosen)  # a broken catalog fails here, before anything is rendered
    token = _ACTIVE.set(chosen)
    try:
        yield chosen
    finally:
        _ACTIVE.reset(token)


def gettext(message: str) -> str:
    """``message`` in the active language (as written when it has no translation).

    Parameters
    ----------
    message
        The English text, as marked in the code.

    Returns
    -------
    str
        Its translation in the active language, or ``message``; ``""`` stays
        ``""`` (gettext would give the catalog's header).
    """
    if not message:
        return message
    return translations(_ACTIVE.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the active language.

    Parameters
    ----------
    singular, plural
        The English forms.
    n
        The count that chooses the form.

    Returns
    -------
    str
        The form for ``n`` in the active language.
    """
    return translations(_ACTIVE.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark now, translate when shown"
    """Mark ``message`` for the catalog without translating it; :func:`gettext` it when shown.

    Parameters
    ----------
    message
        An English text whose translation is looked up later.

    Returns
    -------
    str
        ``message`` unchanged.
    """
    return message


#: What a :class:`Message` field may hold: numbers and names as they are, or another message.
Field = Union[str, int, float, "Message"]


@dataclass(frozen=True)
class Message:
    """A sentence translated when it is shown, not when it is said.

    A stage's result is cached and may be computed in another process or
    thread, so what it says (a warning it logs, the choice of a biomass
    model) cannot be translated where it is said: it keeps the English
    template and its fields, and the ledger and the report translate it in
    the language active when they show it (:func:`shown`). ``str()`` gives
    the English sentence (the log's).

    Attributes
    ----------
    template
        The English text, a :meth:`str.format` template marked for the
        catalog (made by :func:`deferred`).
    fields
        ``(name, value)`` of each field; a :class:`Message` value is itself
        translated.
    """

    template: str
    fields: tuple[tuple[str, Field], ...] = ()

    def __str__(self) -> str:
        return self.template.format(**dict(self.fields))

    def translated(self) -> str:
        """The sentence in the active language (:func:`language`)."""
        values = {name: shown(value) for name, value in self.fields}
        return gettext(self.template).format(**values)


def deferred(template: str, /, **fields: Field) -> Message:
    """A :class:`Message` of ``template`` and its fields (Babel extracts ``deferred("…")``).

    Parameters
    ----------
    template
        The English :meth:`str.format` template.
    **fields
        Its fields' values: numbers (formatted by the template), names, or
        messages.

    Returns
    -------
    Message
        The message, translated when shown.
    """
    return Message(template, tuple(fields.items()))


def joined(items: Sequence[Field], separator: str = ", ") -> Message:
    """A :class:`Message` of ``items`` joined by ``separator``, each translated when shown.

    Parameters
    ----------
    items
        Messages, names or numbers.
    separator
        What stands between two items (the same in every language).

    Returns
    -------
    Message
        The items in order, each shown in the language active then.
    """
    template = verbatim(separator).template.join(f"{{i{k}}}" for k in range(len(items)))
    return Message(template, tuple((f"i{k}", item) for k, item in enumerate(items)))


def verbatim(text: str) -> Message:
    """A :class:`Message` of a text that has no translation (shown as it is in every language)."""
    return Message(text.replace("{", "{{").replace("}", "}}"))


def shown(value: Field) -> str | int | float:
    """``value`` as shown in the active language: a :class:`Message` translated, else unchanged.

    Parameters
    ----------
    value
        A message, or a number or name.

    Returns
    -------
    str | int | float
        The translated sentence, or ``value``.
    """
    return value.translated() if isinstance(value, Message) else value
