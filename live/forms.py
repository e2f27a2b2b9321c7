"""Live selling forms (Flask-WTF: each carries the shop's CSRF token). The services word every
refusal; the forms handle types."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from live.models import StreamKind


class StartNowForm(FlaskForm):
    """The one tap: nothing to fill in."""


class ScheduleForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    scheduled_at = DateTimeLocalField(
        _l("Starts at"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    stream_kind = SelectField(
        _l("Stream"),
        choices=[SelectChoice(*choice) for choice in StreamKind.choices()],
        default=StreamKind.HLS,
    )
    stream_url = StringField(_l("Stream address"), validators=[Optional(), Length(max=1000)])
