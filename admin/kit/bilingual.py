"""Labels of the catalog's two-language columns (``shop.i18n``): each text is edited in
Chinese and in English, side by side, and a list shows both names."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: column -> its label in lists and forms
BILINGUAL_LABELS = {
    "name": _l("Name (Chinese)"),
    "name_en": _l("Name (English)"),
    "description": _l("Description (Chinese)"),
    "description_en": _l("Description (English)"),
    "description_html": _l("Description (Chinese)"),
    "description_html_en": _l("Description (English)"),
}

#: what a form says under the English fields
EMPTY_FALLS_BACK = _l("Leave empty to show the Chinese text to English readers too.")


def bilingual_labels(*columns: str) -> dict:
    return {column: BILINGUAL_LABELS[column] for column in columns}


def english_field_args(*columns: str) -> dict:
    """``form_args`` for the English columns: their labels and what an empty one means."""
    return {
        column: {"label": BILINGUAL_LABELS[column], "description": EMPTY_FALLS_BACK}
        for column in columns
    }
