"""The base of every closed vocabulary: a ``StrEnum`` whose members carry their label.

A vocabulary lives in its domain's ``models.py``, beside the column that stores it. Members
are declared as ``NAME = "value", _l("Label")``. Columns stay strings: a member *is* its
value (``SharerStatus.ACTIVE == "active"``, it is inserted and compared as that string), so
no migration is needed. What a member adds is that a misspelt status is an ``AttributeError``
the first time the line runs, not a comparison that is silently never true, and that its
label is in one place for the admin, the workbench, the reports and the templates.

A column that stores a vocabulary says so with ``info={"vocabulary": ...}``; a test checks
every value the demo data writes against it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

VOCABULARY = "vocabulary"  # the key of Column.info naming a column's vocabulary


class Vocabulary(enum.StrEnum):
    """A closed set of string values, each with a lazily translated label."""

    def __new__(cls, value: str, label):
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self):
        """The translatable label (a lazy string: it translates when shown)."""
        return self._label

    @classmethod
    def has(cls, value: object) -> bool:
        """Whether ``value`` is one of the vocabulary's values (``in`` on an enum class raises
        for a plain string before Python 3.12)."""
        return value in cls._value2member_map_

    @classmethod
    def choices(cls, members: Iterable[Vocabulary] | None = None) -> list[tuple[str, object]]:
        """``(value, label)`` pairs in declaration order (or of ``members``, in their order),
        for select fields and the admin's ``form_choices`` / ``column_choices``."""
        return [(m.value, m.label) for m in (cls if members is None else members)]

    @classmethod
    def labels(cls) -> dict[str, object]:
        """``{value: label}`` in declaration order, for a formatter that shows a value by its
        label."""
        return {m.value: m.label for m in cls}

    @classmethod
    def label_of(cls, value: str | None) -> str:
        """The label of a stored value, as text; the value itself when it is not a member."""
        try:
            return str(cls(value).label)
        except ValueError:
            return "" if value is None else str(value)
