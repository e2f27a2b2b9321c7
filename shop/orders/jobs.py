"""Order jobs: plain functions taking ids, safe to run twice (see ``shop.infra.queue``, whose
runner is their unit of work)."""

from flask import current_app
from flask_babel import force_locale

from shop.customers import sms
from shop.extensions import db
from shop.hooks import register_handler, register_sweep
from shop.orders import services as orders
from shop.orders.models import Order
from shop.orders.pickup import order_message
from shop.orders.topics import OrderTopic


def expire_order(order_id: int) -> bool:
    """Release the stock of an order still unpaid when its reservation ends."""
    return orders.expire(order_id)


def send_order_link(order_id: int, locale: str = "") -> None:
    """Text the customer their order's link (and pick-up code) through the configured sender
    (``SMS_SENDER``), in the language they checked out in; a failed hand-over raises, and the
    outbox retries it."""
    order = db.session.get(Order, order_id)
    if order is None:
        return
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        message = order_message(order)
    sms.sender().send(order.phone, message)


def expire_due_orders() -> int:
    """Sweep: cancel every unpaid order past its reservation (covers lost timers)."""
    return orders.expire_due_each_in_own_transaction()


def settle_requested_refunds() -> int:
    """Sweep: finish the Stripe refunds a crash or a network error left requested."""
    return orders.settle_requested_refunds_each_in_own_transaction()


def init_app(app) -> None:
    register_sweep(app, "shop.orders.jobs.expire_due_orders", 60)
    register_sweep(app, "shop.orders.jobs.settle_requested_refunds", 60)
    register_handler(app, OrderTopic.RESERVATION_ENDS, "shop.orders.jobs.expire_order")
    register_handler(app, OrderTopic.PLACED, "shop.orders.jobs.send_order_link")
