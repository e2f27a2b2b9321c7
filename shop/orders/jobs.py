"""Order jobs: plain functions taking ids, safe to run twice (see ``shop.infra.queue``)."""

from shop.hooks import register_handler, register_sweep
from shop.orders import services as orders
from shop.orders.topics import OrderTopic


def expire_order(order_id: int) -> bool:
    """Release the stock of an order still unpaid when its reservation ends."""
    return orders.expire(order_id)


def expire_due_orders() -> int:
    """Sweep: cancel every unpaid order past its reservation (covers lost timers)."""
    return orders.expire_due()


def init_app(app) -> None:
    register_sweep(app, "shop.orders.jobs.expire_due_orders", 60)
    register_handler(app, OrderTopic.RESERVATION_ENDS, "shop.orders.jobs.expire_order")
