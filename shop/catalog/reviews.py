"""Reviews: written by customers who bought, shown after staff approve them."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.catalog.models import Review, ReviewStatus
from shop.errors import InvalidInput
from shop.extensions import db
from shop.orders.models import Order, OrderStatus
from shop.staff import audit

#: an order's items can be reviewed once the customer has them: shipped, picked up, completed
REVIEWABLE_STATES = (OrderStatus.FULFILLED, OrderStatus.PICKED_UP, OrderStatus.COMPLETED)


def reviewable(order: Order) -> bool:
    return order.status in REVIEWABLE_STATES


def submit_review(order: Order, line_id, rating, body: str) -> Review:
    """A review of one line of an order the customer has received (shipped or picked up);
    a paid order still on its way cannot be reviewed. Does not commit."""
    if not reviewable(order):
        raise InvalidInput(
            _("You can review what you bought once it has been shipped or picked up.")
        )
    line = next((ln for ln in order.lines if str(ln.id) == str(line_id)), None)
    if line is None:
        raise InvalidInput(_("That item is not part of this order."))
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise InvalidInput(_("Choose a rating from 1 to 5 stars."))
    body = (body or "").strip()
    if len(body) > 2000:
        raise InvalidInput(_("Please keep your review under 2000 characters."))
    if db.session.scalar(select(Review.id).where(Review.order_line_id == line.id)):
        raise InvalidInput(_("You have already reviewed this item."))
    review = Review(
        product_id=line.product_id,
        order_line_id=line.id,
        customer_id=order.customer_id,
        rating=rating,
        body=body,
        author_name=(order.contact_name or "")[:1] + "**",
    )
    try:
        with db.session.begin_nested():  # a concurrent submission of the same item loses here
            db.session.add(review)
    except IntegrityError:
        raise InvalidInput(_("You have already reviewed this item.")) from None
    return review


def moderate(review: Review, status: str, staff) -> None:
    """Approve or reject a review, in the audit log. Does not commit."""
    if not ReviewStatus.has(status):
        raise InvalidInput(_("Unknown review status."))
    before = review.status
    review.status = status
    audit.record(
        staff,
        f"review.{status}",
        review,
        before={"status": before},
        after={"status": status},
        store_id=review.product.store_id,
    )
