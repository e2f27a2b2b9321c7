"""Live selling forms (Flask-WTF: each carries the shop's CSRF token). The services word every
refusal; the forms handle types."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from live.models import StreamKind
from shop.errors import InvalidInput
from shop.money import parse_money


class StartNowForm(FlaskForm):
    """The one tap: nothing to fill in."""


class ConsoleForm(FlaskForm):
    """A form the host console's script posts: the host action's CSRF check already covers
    it. Its first error is what the console shows, by the form."""

    class Meta:
        csrf = False

    @classmethod
    def read(cls, formdata):
        """The form as the console posted it; ``InvalidInput`` with its first error."""
        form = cls(formdata=formdata)
        if not form.validate():
            raise InvalidInput(form.first_error())
        return form

    def first_error(self) -> str:
        for field in self:
            if field.errors:
                return f"{field.label.text}: {field.errors[0]}"
        return ""


class StreamForm(ConsoleForm):
    """What a room plays: set when a session is scheduled, or later from the host console
    (what may be played is ``live.services.check_stream``'s)."""

    stream_kind = SelectField(
        _l("Stream"),
        choices=[SelectChoice(*choice) for choice in StreamKind.choices()],
        default=StreamKind.HLS,
    )
    stream_url = StringField(_l("Stream address"), validators=[Optional(), Length(max=1000)])


class ScheduleForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    scheduled_at = DateTimeLocalField(
        _l("Starts at"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    stream_kind = StreamForm.stream_kind
    stream_url = StreamForm.stream_url


def _id_or_none(value) -> int | None:
    return int(value) if str(value or "").isdecimal() and len(str(value)) < 10 else None


class LivePriceField(StringField):
    """A live price typed in major units ("69.00"), held in minor units of the shop currency;
    the shelf's rules (above zero...) are the service's."""

    def process_formdata(self, valuelist) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        try:
            self.data = parse_money(valuelist[0], current_app.config["SHOP_CURRENCY"])
        except ValueError:
            raise ValueError(_l("Enter an amount such as 12.50.")) from None


class ShelfForm(ConsoleForm):
    """The host console's "add to the shelf" (the admin's shelf form keeps the same rules:
    ``live.shelf``)."""

    product = SelectField(_l("Product"), coerce=_id_or_none, validate_choice=False)
    live_price = LivePriceField(_l("Live price"))
    per_customer_limit = IntegerField(_l("Limit per customer"), validators=[Optional()])
    stock_cap = IntegerField(_l("Session stock cap"), validators=[Optional()])
    starts_at = DateTimeLocalField(
        _l("Live price from"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    ends_at = DateTimeLocalField(
        _l("Live price until"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )


class RemindForm(FlaskForm):
    """ "Remind me" on a scheduled session's room: a signed-in customer's own phone, else the
    phone typed here (``live.reminders`` checks it)."""

    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=32)])


class TipForm(FlaskForm):
    """A tip: one of the preset amounts (the button tapped, in minor units), and the
    adult-confirmation ticked before a customer's first tip (``live.tips`` checks both)."""

    amount = IntegerField(_l("Tip"), validators=[DataRequired()])
    adult = BooleanField(_l("I am 18 or older"))
