"""Checks shared by the vocabulary tests of each package: every member of every vocabulary a
module declares has a label, the label is a lazy gettext/pgettext call (so it translates in
the request that shows it), and the Chinese catalogue translates it."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from babel.messages.pofile import read_po
from flask_babel import gettext, pgettext
from flask_babel.speaklater import LazyString

from shop.infra.vocab import Vocabulary

PO = Path(__file__).resolve().parents[2] / "translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def vocabularies(module: ModuleType) -> list[type[Vocabulary]]:
    """The vocabularies declared in ``module`` (not those it imports)."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Vocabulary)
        and value.__module__ == module.__name__
    ]


def _translated() -> dict[tuple[str | None, str], str]:
    with PO.open("rb") as fh:
        return {(m.context, m.id): m.string for m in read_po(fh) if m.id}


def assert_labelled(module: ModuleType, expected: set[str]) -> None:
    """``module`` declares exactly the vocabularies ``expected`` names, and each member of
    each has a translated label; runs inside an app context."""
    found = vocabularies(module)
    assert {v.__name__ for v in found} == expected
    translated = _translated()
    for vocabulary in found:
        assert len(vocabulary) > 0
        assert vocabulary.choices() == [(m.value, m.label) for m in vocabulary]
        for member in vocabulary:
            label = member.label
            assert isinstance(label, LazyString), (vocabulary, member)
            if label._func is gettext:
                key = (None, *label._args)
            else:
                assert label._func is pgettext, (vocabulary, member)
                key = tuple(label._args)
            assert str(label), (vocabulary, member)
            assert translated.get(key), f"{vocabulary.__name__}.{member.name}: {key} untranslated"
            assert vocabulary.label_of(member.value) == str(label)
