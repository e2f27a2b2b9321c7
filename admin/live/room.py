"""The live room's moderation: the banned words no comment may contain.

Whoever moderates reviews (``reviews.moderate``: owners, managers, support) keeps the list; it
applies to every session's comments from the next comment on.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import InputRequired, Length

from admin.base import StaffModelView


class BannedWordView(StaffModelView):
    permission = "reviews.moderate"
    edit_permission = "reviews.moderate"
    audit_name = "live_banned_word"
    allow_delete = True
    can_view_details = False
    column_list = ["word"]
    column_searchable_list = ["word"]
    column_default_sort = "word"
    form_columns = ["word"]
    column_labels = {"word": _l("Banned word or phrase")}
    form_args = {"word": {"validators": [InputRequired(), Length(max=100)]}}
    column_description = {
        "word": _l("A live comment containing it (in any letter case) is refused.")
    }

    def on_model_change(self, form, model, is_created):
        model.word = " ".join((model.word or "").split()).lower()
        super().on_model_change(form, model, is_created)
