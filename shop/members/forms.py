"""Member pages' forms. Claiming a coupon posts nothing but the CSRF token (checked for the
whole app): the coupon is in the address and the customer in the session, so it has no form
class; ``coupons.issue`` words every refusal."""

from __future__ import annotations

from wtforms import HiddenField

from shop.web.forms import StorefrontForm


class PointsPurchaseForm(StorefrontForm):
    """Buying one points-shop item. The key, made when the page was shown, makes a repeated
    submission one purchase; ``tiers.buy_shop_item`` refuses a missing or malformed one."""

    idempotency_key = HiddenField(default="")
