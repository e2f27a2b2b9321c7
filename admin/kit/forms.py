"""Admin forms: the CSRF-protected base form, money and image fields, the custom views' forms.

Every admin form derives from ``AdminForm`` (Flask-Admin's ``SecureForm``): model forms, the
list's action and delete forms, sign-in, sign-out, order actions and refunds. The token is tied
to the session; the shop's own CSRFProtect skips the admin blueprints because of it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import current_app
from flask_admin.form import SecureForm
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    StringField,
)
from wtforms.csrf.session import SessionCSRF
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from shop.catalog import images
from shop.errors import InvalidInput
from shop.money import exponent, parse_money

HIDDEN_TYPES = {"HiddenField", "CSRFTokenField"}


class AdminCSRF(SessionCSRF):
    """SessionCSRF that refuses a token posted with a session that never had one (no 500)."""

    def validate_csrf_token(self, form, field):
        if "csrf" not in self.session:
            raise ValidationError(field.gettext("CSRF token missing."))
        super().validate_csrf_token(form, field)


class AdminForm(SecureForm):
    class Meta:
        csrf_class = AdminCSRF

        @property
        def csrf(self) -> bool:
            return bool(current_app.config.get("WTF_CSRF_ENABLED", True))

        @property
        def csrf_time_limit(self) -> timedelta | None:
            seconds = current_app.config.get("WTF_CSRF_TIME_LIMIT")
            return timedelta(seconds=seconds) if seconds else None

    def hidden_tag(self) -> Markup:
        """The hidden fields, token included. Flask-Admin's form macro uses this when present
        instead of adding the shop's own CSRF token, which would shadow this form's."""
        return Markup("").join(field() for field in self if field.type in HIDDEN_TYPES)


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
        exp = exponent(shop_currency())
        return f"{Decimal(int(self.data)).scaleb(-exp):.{exp}f}"

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


class LoginForm(AdminForm):
    email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=512)])
    next = HiddenField()


class LogoutForm(AdminForm):
    pass


class IdForm(AdminForm):
    """The form of a button that acts on one row (``admin.kit.pages.ActionButton``)."""

    id = HiddenField(validators=[DataRequired()])


class OrderActionForm(IdForm):
    verb = HiddenField(validators=[DataRequired()])


class RefundForm(AdminForm):
    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])
    restock = BooleanField(_l("Put the refunded items back in stock"), default=True)
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=255)])


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
