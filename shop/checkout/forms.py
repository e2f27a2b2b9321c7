"""What the product page, the basket page and the checkout page post, read into typed values.

The messages are the ones the storefront has always shown; the rules beyond the types (the
product is on sale, the store exists, the payment method is offered) are ``place_order``'s.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired

from shop.checkout.services import CheckoutDetails
from shop.orders.models import Fulfilment
from shop.web.forms import StorefrontForm

MAX_ID = 2**31 - 1  # the largest id a database row can have


def _quantity(raw: str) -> int:
    limit = current_app.config["MAX_LINE_QUANTITY"]
    try:
        quantity = int(raw.strip())
    except ValueError:
        raise ValueError(_("Quantity must be a whole number.")) from None
    if quantity < 1:
        raise ValueError(_("Quantity must be at least 1."))
    if quantity > limit:
        raise ValueError(_("You can buy at most %(n)d at a time.", n=limit))
    return quantity


class VariantField(HiddenField):
    """A variant's id. Blank is none (at checkout: the basket); anything but an id a row can
    have is "That product does not exist." (whether it does is the service's to say)."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0]:
            return
        try:
            value = int(valuelist[0].strip())
        except ValueError:
            value = 0
        if not 0 < value <= MAX_ID:
            raise ValueError(_("That product does not exist."))
        self.data = value


class QuantityField(StringField):
    """How many of one variant: a whole number from 1 to ``MAX_LINE_QUANTITY``."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = _quantity(valuelist[0])


class LineQuantityField(QuantityField):
    """A basket line's quantity, where 0 removes the line."""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0].strip() == "0":
            self.data = 0
        else:
            super().process_formdata(valuelist)


class SeenField(HiddenField):
    """What the checkout page showed, as ``key:amount`` pairs separated by spaces (the page
    writes them; ``place_order`` refuses an order that now differs). Anything else is read as
    none: the field can only protect the buyer, never lower a price."""

    key = str

    def process_formdata(self, valuelist):
        self.data = {}
        try:
            pairs = [pair.split(":") for pair in (valuelist[0] if valuelist else "").split()]
            self.data = {self.key(key): int(amount) for key, amount in pairs}
        except ValueError:
            self.data = {}


class SeenPricesField(SeenField):
    """The unit prices the checkout page showed, by variant id (``variant_id:price``)."""

    key = int


class SeenTotalsField(SeenField):
    """The totals the checkout page showed, by fulfilment (``pickup:total delivery:total``)."""


class PointsField(StringField):
    """Points to spend: blank is none; anything but a whole number is refused."""

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        self.data = 0
        if not raw:
            return
        if not raw.isdecimal() or len(raw) > 9:
            self.data = None
            raise ValueError(_("Points must be a positive whole number."))
        self.data = int(raw)


class StoreField(StringField):
    """A store's id, or None for anything else (``place_order`` asks for a store if needed)."""

    def process_data(self, value):
        self.data = _store_id(value)

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = _store_id(valuelist[0])


def _store_id(raw) -> int | None:
    raw = "" if raw is None else str(raw)
    return int(raw) if raw.isdecimal() and len(raw) < 10 else None


class AddToCartForm(StorefrontForm):
    """ "Add to basket" on the product page (the same form as "Buy now", posted here)."""

    variant = VariantField(validators=[InputRequired(_l("That product does not exist."))])
    qty = QuantityField(default=1)


class CartForm(StorefrontForm):
    """The basket page: a quantity box per line, named ``qty_<variant id>``; 0 removes it, and
    so does a line's remove button (``remove=<variant id>``)."""

    remove = StringField(default="")

    @classmethod
    def for_lines(cls, variant_keys, formdata) -> CartForm:
        fields = {f"qty_{key}": LineQuantityField() for key in variant_keys}
        return type("CartForm", (cls,), fields)(formdata)

    def quantities(self) -> dict[str, int]:
        """The quantities posted, by the variant id as the basket keys it (0: remove)."""
        posted = {
            name.removeprefix("qty_"): field.data
            for name, field in self._fields.items()
            if name.startswith("qty_") and field.raw_data
        }
        if self.remove.data:
            posted[self.remove.data] = 0
        return posted


class CheckoutForm(StorefrontForm):
    """The one-page checkout: "Buy now" (``variant`` and ``qty``) or, without a variant, the
    basket; the buyer's details; a signed-in customer's coupon and points."""

    variant = VariantField()
    qty = QuantityField(default=1)
    phone = StringField(default="")
    name = StringField(default="")
    fulfilment = StringField(default="")  # "pickup" when not given
    pickup_store = StoreField()
    province = StringField(default="")
    city = StringField(default="")
    district = StringField(default="")
    address = StringField(default="")
    saved_address = StringField(default="")  # the id of one of the customer's addresses
    filled_from = HiddenField(default="")  # the saved address the fields were filled from
    note = StringField(default="")
    coupon = StringField(default="")  # a coupon id, "best" (when not given) or "none"
    points = PointsField(default=0)
    payment_method = StringField(default="")
    idempotency_key = HiddenField(default="")
    seen_prices = SeenPricesField(default=dict)
    seen_totals = SeenTotalsField(default=dict)
    action = StringField(default="")  # "update": the Apply button, which places nothing

    def problems(self) -> dict[str, str]:
        """What is wrong with the form as typed, by field: points that are not a number, a
        bad quantity for the one variant (which is then priced at 1), a delivery without its
        region. Call after ``validate``."""
        problems = {}
        if self.points.errors:
            problems["points"] = self.points.errors[0]
        if self.variant.data is not None and self.qty.errors:
            problems["qty"] = self.qty.errors[0]
        if self.fulfilment.data == "delivery" and not self.district.data:
            problems["district"] = _("Please choose the province, city and district.")
        return problems

    def use_address(self, address) -> None:
        """Fill the delivery fields with a saved address (``shop.customers.addresses``)."""
        for name in ("province", "city", "district", "address"):
            self[name].data = getattr(address, name)

    def membership(self, customer_id: int | None) -> dict:
        """What ``quote`` takes for coupons and points: only a signed-in customer has any,
        and their best coupon is taken unless they chose one. The pick-up store counts (for a
        store's own coupons) only when picking up, as ``place_order`` prices it."""
        picking_up = (self.fulfilment.data or Fulfilment.PICKUP) == Fulfilment.PICKUP
        return {
            "customer_id": customer_id,
            "coupon": (self.coupon.data or "best") if customer_id else None,
            "points": (self.points.data or 0) if customer_id else 0,
            "store_id": self.pickup_store.data if picking_up else None,
        }

    def details(self, customer_id: int | None, attribution: dict) -> CheckoutDetails:
        membership = self.membership(customer_id)
        return CheckoutDetails(
            name=self.name.data,
            phone=self.phone.data,
            fulfilment=self.fulfilment.data or "pickup",
            payment_method=self.payment_method.data,
            province=self.province.data,
            city=self.city.data,
            district=self.district.data,
            address=self.address.data,
            pickup_store_id=self.pickup_store.data,
            note=self.note.data,
            customer_id=customer_id,
            coupon=membership["coupon"],
            points=membership["points"],
            attribution=attribution,
            seen_prices=self.seen_prices.data or {},
            seen_totals=self.seen_totals.data or {},
        )
