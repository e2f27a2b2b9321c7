"""What the distribution and members views share: the single-row settings view, the list page
with tools and an introduction, customers shown with their phone masked per role, and form
fields for percentages, values whose unit depends on a kind, ids and lists of ids.

Percentages are typed as people say them ("12.5") and stored in basis points (1250); amounts
are typed in major units ("48.00") and stored in minor units through ``shop.money.parse_money``.
Nothing here goes through a float.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import current_app, redirect, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField

from shop.coupons import hundredths
from shop.extensions import db
from shop.money import exponent, parse_money
from shop.privacy import mask_phone

from .base import StaffModelView
from .forms import NotStored
from .permissions import may

MAX_MINOR = 2_000_000_000


class ToolsListView(StaffModelView):
    """A model view whose list page shows an introduction and links to its custom pages."""

    list_template = "admin/siyu/list.html"
    list_intro = None

    def list_tools(self) -> list[tuple[str, str]]:
        """(label, url) of the custom pages the signed-in staff member may open."""
        return []


class SingleRowView(StaffModelView):
    """Settings kept in one row, made with its defaults on first use by ``load_row``: the list
    page goes straight to the row's form (or its details, for roles that may only read)."""

    allow_create = False

    def load_row(self):
        """The settings row (each subclass names the service that makes it)."""
        raise NotImplementedError

    @expose("/")
    def index_view(self):
        row = self.load_row()
        db.session.commit()
        if self.can_edit:
            return redirect(url_for(".edit_view", id=row.id))
        return redirect(url_for(".details_view", id=row.id))


def customer_cell(customer) -> str:
    """A customer's name and phone, the phone masked unless the role may see it."""
    if customer is None:
        return ""
    phone = customer.phone if may("phones.full") else mask_phone(customer.phone)
    return f"{customer.name} {phone}".strip()


def customer_formatter(view, context, model, name):
    return customer_cell(getattr(model, name))


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


def money_text(amount: int, currency: str) -> str:
    """Minor units as the plain major-unit text a form shows: 4800 CNY -> "48.00"."""
    exp = exponent(currency)
    return f"{Decimal(int(amount)).scaleb(-exp):.{exp}f}"


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
            self.data = money_text(value, current_app.config["SHOP_CURRENCY"])


def _none_or_int(value):
    if value in (None, "", "None", "__None"):
        return None
    return int(value)


class IdSelectField(SelectField):
    """A choice of one row, stored as its id in a plain foreign-key column (for models without
    a relationship). ``choices`` is a callable run when the form is made, inside the request;
    the first choice, "—", stores None."""

    def __init__(self, label=None, validators=None, choices=None, **kwargs):
        def all_choices():
            return [("", "—"), *[(str(key), name) for key, name in choices()]]

        super().__init__(label, validators, coerce=_none_or_int, choices=all_choices, **kwargs)


class IdListField(StringField):
    """A list of ids typed as "3, 5, 8"; None when empty."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return ", ".join(str(i) for i in self.data or [])

    def process_formdata(self, valuelist) -> None:
        text = (valuelist[0] if valuelist else "") or ""
        parts = [p for p in text.replace(",", " ").split() if p]
        if not all(p.isdigit() and len(p) < 10 for p in parts):
            self.data = None
            raise ValueError(_l("Enter ids as whole numbers separated by commas."))
        self.data = sorted({int(p) for p in parts}) or None
