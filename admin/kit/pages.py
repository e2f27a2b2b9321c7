"""What the admin's views share beyond the base view: the custom pages (a form page, an action
button), the single-row settings view, the list page with tools and an introduction, customers
shown with their phone masked per role, order numbers and labelled choices, and form fields for
percentages, values whose unit depends on a kind, ids and lists of ids.

A custom page is a short class: ``FormPage`` (a page with one form: GET shows it, POST calls one
service) or ``ActionButton`` (a POST from a button on another page, running one service on one
row). Each holds the skeleton such pages share: the permission, the form and its CSRF token, the
row through the view's store-scoped query (another store's is a 404), the service, its message,
the redirect. The services write their own audit entries; a refusal (``ShopError``,
``CommissionError``) is rolled back and its message shown.

Percentages are typed as people say them ("12.5") and stored in basis points (1250); amounts
are typed in major units ("48.00") and stored in minor units through ``shop.money.parse_money``.
Nothing here goes through a float.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import SelectField, StringField

from admin.base import StaffModelView
from admin.kit.forms import AdminForm, IdForm, NotStored
from admin.permissions import may
from distribution.commission import CommissionError
from shop.customers.phones import mask_phone
from shop.errors import ShopError
from shop.extensions import db
from shop.members.coupons import hundredths
from shop.money import exponent, parse_money

MAX_MINOR = 2_000_000_000
FORM_EXPIRED = _l("The form expired. Reload the page and try again.")
#: what a service raises when a business rule refuses the action (nothing was changed)
REFUSALS = (ShopError, CommissionError)


# Custom pages --------------------------------------------------------------------------------


class CustomPage:
    """A page of a model view beyond Flask-Admin's own, declared as a class and mounted in the
    view with ``route``: ``grant_view = GrantCoupon.route("/grant/")`` (the endpoint is the
    attribute's name). Each request makes an instance holding the view."""

    permission: str
    methods: tuple[str, ...] = ("GET", "POST")

    def __init__(self, view):
        self.view = view

    @classmethod
    def route(cls, url: str):
        def serve(view):
            return cls(view).response()

        serve.__doc__ = cls.__doc__
        return expose(url, methods=cls.methods)(serve)

    def response(self):
        raise NotImplementedError


class FormPage(CustomPage):
    """A custom page with one form. GET shows it; POST validates it and calls ``submit``, which
    runs the service and flashes what it did (then the page redirects to ``done_url``) or
    returns the message to show on the form again (status ``error_status``). A subclass
    declares ``permission``, ``form_class`` and ``template`` and fills in the hooks it needs."""

    form_class: type[AdminForm]
    template: str
    #: the message for a form that does not validate (its token being fine); None: FORM_EXPIRED
    incomplete = None
    #: the status of the form shown again with an error
    error_status = 400

    def load(self):
        """Look up what the page is about (through the view's scoped query); a response returned
        here (a redirect) ends the request."""
        return None

    def blank_form(self) -> AdminForm:
        """The form a GET shows, with its first values."""
        return self.form_class()

    def fill(self, form) -> None:
        """Complete the form, shown or posted: choices, hidden ids."""

    def context(self) -> dict:
        """More values for the template."""
        return {}

    def may_submit(self) -> bool:
        """False: a POST only shows the page again (nothing to choose from)."""
        return True

    def submit(self, form) -> str | None:
        """Run the service and flash what it did; or return the message to show instead."""
        raise NotImplementedError

    def done_url(self) -> str:
        return url_for(".index_view")

    def invalid(self, form) -> str:
        if self.incomplete is None or (form.meta.csrf and form.csrf_token.errors):
            return str(FORM_EXPIRED)
        return str(self.incomplete)

    def response(self):
        if not may(self.permission):
            return self.view.forbidden()
        early = self.load()
        if early is not None:
            return early
        posted = request.method == "POST"
        form = self.form_class(request.form) if posted else self.blank_form()
        self.fill(form)
        if posted and self.may_submit():
            error = self._submitted(form)
            if error is None:
                return redirect(self.done_url())
            flash(error, "error")
            return self.render(form), self.error_status
        return self.render(form)

    def _submitted(self, form) -> str | None:
        if not form.validate():
            return self.invalid(form)
        try:
            return self.submit(form)
        except REFUSALS as exc:
            db.session.rollback()
            return exc.message

    def render(self, form):
        return self.view.render(self.template, form=form, **self.context())


class ActionButton(CustomPage):
    """A POST from a button on another page: it checks the permission and the form's token,
    loads the row through the view's scoped query, runs one service (``run``, which flashes
    what it did) and goes back. A subclass declares ``permission`` and fills in ``run``."""

    methods = ("POST",)
    form_class: type[AdminForm] = IdForm

    def allowed(self, form) -> bool:
        return may(self.permission)

    def load(self, form):
        return self.view.get_one(form.id.data)

    def run(self, row) -> None:
        raise NotImplementedError

    def back_url(self, row) -> str:
        return url_for(".details_view", id=row.id)

    def expired_url(self) -> str:
        return url_for(".index_view")

    def response(self):
        form = self.form_class(request.form)
        if not self.allowed(form):
            return self.view.forbidden()
        if not form.validate():
            flash(FORM_EXPIRED, "error")
            return redirect(self.expired_url())
        row = self.load(form)
        try:
            self.run(row)
        except REFUSALS as exc:
            db.session.rollback()
            flash(exc.message, "error")
        return redirect(self.back_url(row))


class ToolsListView(StaffModelView):
    """A model view whose list page shows an introduction and links to its custom pages."""

    list_template = "admin/siyu/list.html"
    list_intro = None
    #: links above the list to the view's custom pages: (label, endpoint, permission or None)
    tools: tuple[tuple, ...] = ()

    def list_tools(self) -> list[tuple[str, str]]:
        """(label, url) of the custom pages the signed-in staff member may open."""
        return [
            (str(label), url_for(endpoint))
            for label, endpoint, permission in self.tools
            if permission is None or may(permission)
        ]


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


def order_number(order_id: int | None) -> str:
    """An order's number from its id alone (``Order.number`` without loading the order)."""
    return f"SY{order_id:06d}" if order_id else ""


def order_cell(order_id: int | None):
    """An order's number, linked to its page for roles that may open it."""
    if not order_id:
        return ""
    if not may("orders.view"):
        return order_number(order_id)
    return Markup('<a href="{}">{}</a>').format(
        url_for("admin_orders.details_view", id=order_id), order_number(order_id)
    )


def choice_formatter(labels):
    """Show a coded value by its label (the value itself when it has none)."""

    def fmt(view, context, model, name):
        value = getattr(model, name)
        return str(labels.get(value, value))

    return fmt


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
