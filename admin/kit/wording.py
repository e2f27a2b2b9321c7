"""Flask-Admin's own words, reworded where its Chinese reads badly ("50 项目" for "50 per page",
"添加筛选器", "选中的").

Flask-Admin's templates translate through ``_gettext`` and ``_ngettext`` from its own catalogue,
which cannot be overridden from outside (Flask-Babel merges an app's catalogue under Flask-
Admin's). ``reword_flask_admin`` swaps those two in the context of every admin template just
before it renders: the strings listed in ``REWORDED`` come from Siyu's catalogue
(``translations/*/messages.po``), every other one from Flask-Admin's. The page-size menu's
"{n} items", which no catalogue has, becomes "%(num)s items" from Siyu's.
"""

from __future__ import annotations

import re

from flask import before_render_template
from flask_babel import gettext, ngettext


def N_(text: str) -> str:
    """Marks a string for ``make messages`` (Babel's default keyword) without translating it."""
    return text


#: Flask-Admin's template strings that Siyu's catalogue words instead
REWORDED = frozenset(
    (
        N_("items"),
        N_("Add Filter"),
        N_("Filter"),
        N_("Reset Filters"),
        N_("Apply"),
        N_("With selected"),
        N_("Create"),
        N_("Create New Record"),
        N_("Save and Add Another"),
        N_("Save and Continue Editing"),
        N_("There are no items in the table."),
        N_("Sort by %(name)s"),
        N_("View Record"),
        N_("Edit Record"),
        N_("Delete Record"),
        N_("Select all records"),
        N_("Select record"),
        N_("Please select at least one record."),
        N_("Are you sure you want to delete this record?"),
        N_("Please select model"),
    )
)

_PAGE_SIZE = re.compile(r"^(\d+) items?$")


def _reworded_gettext(original):
    def translate(string, **variables):
        if string in REWORDED:
            return gettext(string, **variables)
        return original(string, **variables)

    return translate


def _reworded_ngettext(original):
    def translate(singular, plural, num, **variables):
        if _PAGE_SIZE.match(str(plural)):
            return ngettext("%(num)s item", "%(num)s items", num)
        return original(singular, plural, num, **variables)

    return translate


def reword_flask_admin(app) -> None:
    """Connect the rewording to this app's template rendering."""

    def swap(sender, template, context, **extra):
        if "_gettext" in context and "admin_view" in context:
            context["_gettext"] = _reworded_gettext(context["_gettext"])
            context["_ngettext"] = _reworded_ngettext(context["_ngettext"])

    before_render_template.connect(swap, app, weak=False)
