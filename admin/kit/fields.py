"""Form fields the admin's model forms share: money typed in major units, percentages typed as
people say them ("12.5", stored in basis points), values whose unit depends on a kind chosen in
the same form, ids and lists of ids, and the fields that are not model columns (stock
adjustments, notes, new passwords, image uploads). Fields that store ids are searchable pickers
(``admin.kit.lookup``).

Amounts are typed in major units ("48.00") and stored in minor units through
``shop.money.parse_money``. Nothing here goes through a float.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, MultipleFileField, PasswordField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from shop.catalog import images
from shop.errors import InvalidInput
from shop.members.coupons import hundredths
from shop.money import format_amount, parse_money

MAX_MINOR = 2_000_000_000


def shop_currency() -> str:
    return current_app.config["SHOP_CURRENCY"]


class NotStored:
    """A form field that is not a model column: ``populate_obj`` leaves the model alone."""

    def populate_obj(self, obj, name) -> None:
        return None


class MoneyField(StringField):
    """An amount typed in major units ("48.00"), held in minor units of the shop currency."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format_amount(self.data, shop_currency())

    def process_formdata(self, valuelist) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            amount = parse_money(valuelist[0], shop_currency())
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter an amount such as 12.50.")) from None
        if amount < 0:
            self.data = None
            raise ValueError(_l("The amount cannot be negative."))
        if amount > 2_000_000_000:
            self.data = None
            raise ValueError(_l("The amount is too large."))
        self.data = amount


class StockChangeField(NotStored, IntegerField):
    pass


class NoteField(NotStored, StringField):
    pass


class NewPasswordField(NotStored, PasswordField):
    pass


class ImageUploadField(NotStored, MultipleFileField):
    """Product pictures. Each file is checked and stored by
    ``shop.catalog.images.store_image`` while the form validates, so a fake, oversized or
    decompression-bomb file is a field error and nothing is saved; ``stored`` holds the new file
    names for the view to attach."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored: list[str] = []

    def pre_validate(self, form) -> None:
        self.stored = []
        for upload in self.data or []:
            if not getattr(upload, "filename", None):
                continue
            try:
                self.stored.append(images.store_image(upload.read()))
            except InvalidInput as exc:
                raise ValidationError(f"{upload.filename}: {exc.message}") from None


def stock_change_field(label) -> StockChangeField:
    return StockChangeField(
        label,
        validators=[Optional(), NumberRange(min=-1_000_000, max=1_000_000)],
        description=_l("Added to the stock (negative to take away); recorded as a movement."),
    )


def note_field() -> NoteField:
    return NoteField(_l("Stock note"), validators=[Optional(), Length(max=255)])


def password_field() -> NewPasswordField:
    return NewPasswordField(
        _l("New password"),
        validators=[
            Optional(),
            Length(min=10, message=_l("Use at least 10 characters.")),
            Length(max=512),
        ],
        description=_l("At least 10 characters. Leave empty to keep the current password."),
    )


def image_field() -> ImageUploadField:
    return ImageUploadField(
        _l("Add images"), description=_l("JPEG, PNG, WebP or GIF; several files at once are fine.")
    )


def parse_percent(text: str) -> int:
    """ "12.5" -> 1250 basis points; ValueError for anything else than 0 to 100 with at most
    two decimals."""
    try:
        value = Decimal(str(text).strip().rstrip("%").strip())
    except InvalidOperation:
        raise ValueError(_l("Enter a percentage such as 10 or 12.5.")) from None
    if not value.is_finite() or value.adjusted() > 3:
        raise ValueError(_l("Enter a percentage such as 10 or 12.5."))
    bp = value.scaleb(2)
    if bp != bp.to_integral_value():
        raise ValueError(_l("Use at most two decimals."))
    if not 0 <= bp <= 10000:
        raise ValueError(_l("A percentage is between 0 and 100."))
    return int(bp)


def parse_amount(text: str, currency: str) -> int:
    try:
        amount = parse_money(text, currency)
    except ValueError:
        raise ValueError(_l("Enter an amount such as 12.50.")) from None
    if amount < 0:
        raise ValueError(_l("The amount cannot be negative."))
    if amount > MAX_MINOR:
        raise ValueError(_l("The amount is too large."))
    return amount


class PercentField(StringField):
    """A percentage typed as "12.5", held in basis points (1250)."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else hundredths(int(self.data))

    def process_formdata(self, valuelist) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = parse_percent(valuelist[0])
        except ValueError:
            self.data = None
            raise


class KindValueField(NotStored, StringField):
    """A value typed as text whose unit depends on a kind chosen in the same form: a percentage
    (stored in basis points) or an amount of money (stored in minor units). The view converts
    it with ``to_stored`` once the kind is known, and fills it with ``show``."""

    def to_stored(self, is_percent: bool) -> int:
        text = (self.data or "").strip()
        if not text:
            raise ValueError(_l("%(field)s: enter a value.", field=self.label.text))
        try:
            if is_percent:
                return parse_percent(text)
            return parse_amount(text, current_app.config["SHOP_CURRENCY"])
        except ValueError as exc:
            raise ValueError(f"{self.label.text}: {exc}") from None

    def show(self, value: int | None, is_percent: bool) -> None:
        if value is None:
            self.data = ""
        elif is_percent:
            self.data = hundredths(value)
        else:
            self.data = format_amount(value, current_app.config["SHOP_CURRENCY"])
