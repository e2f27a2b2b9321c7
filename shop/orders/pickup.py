"""Pick-up codes: what a pick-up customer shows at the counter, and handing the order over.

Every pick-up order gets an 8-digit code when it is placed (unique among orders; a clash fails
the insert and ``place_order`` tries again with a new one). The order page shows it with a QR
code of it; staff scan it or type it in the admin (or the guide workbench), see the order, and
hand it over: a pay-at-store order is marked paid first, then picked up, each through the
order state machine (``shop.orders.services``) and in the audit log.
"""

from __future__ import annotations

import io
import re
import secrets

import qrcode
import qrcode.image.svg
from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from shop.errors import InvalidInput, InvalidTransition
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Fulfilment, Order, OrderStatus, PaymentMethod

CODE_DIGITS = 8
_NOT_DIGITS = re.compile(r"\D")


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def shows_code(order: Order) -> bool:
    """Whether the order page shows the code: a pick-up order the customer can collect now
    (paid, or to be paid at the counter)."""
    if order.fulfilment != Fulfilment.PICKUP or not order.pickup_code:
        return False
    if order.status == OrderStatus.PAID:
        return True
    return (
        order.status == OrderStatus.AWAITING_PAYMENT and order.payment_method == PaymentMethod.STORE
    )


def spaced(code: str) -> str:
    """``12345678`` as ``1234 5678``, easier to read out."""
    return f"{code[:4]} {code[4:]}"


def qr_svg(code: str) -> Markup:
    """An inline SVG of a QR code of the pick-up code (what a counter scanner reads)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, box_size=10)
    qr.add_data(code)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    svg = out.getvalue().decode()
    return Markup(svg[svg.index("<svg") :])


def find(raw_code: str, store_ids: list[int] | None = None) -> Order:
    """The pick-up order with this code (spaces and dashes ignored), among ``store_ids`` when
    given (a store manager's stores). Raises InvalidInput when there is none."""
    code = _NOT_DIGITS.sub("", raw_code or "")
    if len(code) != CODE_DIGITS:
        raise InvalidInput(_("A pick-up code has %(n)d digits.", n=CODE_DIGITS))
    query = select(Order).where(Order.pickup_code == code)
    if store_ids is not None:
        query = query.where(Order.store_id.in_(store_ids or [0]))
    order = db.session.scalar(query)
    if order is None:
        raise InvalidInput(_("No pick-up order has this code."))
    return order


def hand_over(order_id: int, code: str, staff) -> Order:
    """Staff hand a pick-up order over to its customer, who showed ``code``: a pay-at-store
    order not paid yet is marked paid (the money is taken at the counter), then the order is
    marked picked up; a second hand-over is refused by the state machine. Call it in the
    entry point's unit of work (the services it calls commit themselves until they are
    converted; then the two steps commit together)."""
    order = db.session.get(Order, order_id)
    if order is None or not code or order.pickup_code != _NOT_DIGITS.sub("", code):
        raise InvalidInput(_("No pick-up order has this code."))
    if order.status == OrderStatus.AWAITING_PAYMENT and order.payment_method == PaymentMethod.STORE:
        orders.mark_paid_at_store(order.id, staff)
    if db.session.scalar(select(Order.status).where(Order.id == order_id)) != OrderStatus.PAID:
        db.session.refresh(order)
        raise InvalidTransition(
            _(
                "Order %(n)s is %(s)s and cannot be handed over.",
                n=order.number,
                s=OrderStatus(order.status).label,
            )
        )
    orders.mark_picked_up(order.id, staff)
    db.session.refresh(order)
    return order


def order_message(order: Order) -> str:
    """The text the customer gets when the order is placed: its number, the pick-up code and
    store (for a pick-up order), and the order page's link."""
    path = current_app.url_map.bind("shop").build("shop.order", {"token": order.token})
    link = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
    shop = current_app.config["SHOP_NAME"]
    if order.fulfilment == Fulfilment.PICKUP and order.pickup_code:
        return _(
            "%(shop)s: order %(n)s is ready to be picked up at %(store)s with code %(code)s. "
            "Your order: %(link)s",
            shop=shop,
            n=order.number,
            store=order.store.name if order.store else "",
            code=spaced(order.pickup_code),
            link=link,
        )
    return _(
        "%(shop)s: thank you for order %(n)s. Your order: %(link)s",
        shop=shop,
        n=order.number,
        link=link,
    )
