"""Acquisition costs: what winning a customer cost, which their lifetime value subtracts
(``distribution.numbers``). One cost per customer, in the shop's currency."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from distribution.models import AcquisitionCost
from shop.errors import AlreadyTaken, InvalidInput
from shop.extensions import db


def check_cost(cost: AcquisitionCost, currency: str) -> None:
    """Check a cost being entered or changed: it names a customer and an amount, and the
    customer has no other cost (``AlreadyTaken``: change that one). A new cost is in
    ``currency``. Does not commit."""
    if cost.customer is None:
        raise InvalidInput(_("Choose the customer."))
    if cost.amount is None:
        raise InvalidInput(_("Enter the cost."))
    with db.session.no_autoflush:
        taken = db.session.scalar(
            select(AcquisitionCost.id).where(
                AcquisitionCost.customer_id == cost.customer.id,
                AcquisitionCost.id != (cost.id or 0),
            )
        )
    if taken:
        raise AlreadyTaken(_("This customer already has a cost: change that one instead."))
    if cost.id is None:
        cost.currency = currency
    cost.note = cost.note or ""
