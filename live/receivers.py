"""What live selling does when the shop's orders move (connected in ``init_app``).

Checkout and the product page ask live for its prices, and checkout for its units, through the
hooks ``shop`` offers (``live.flash``); a shelf change retires the kept product pages
(``page_models``); a paid order is settled through the outbox (``order.paid``); a cancelled
order gives its units back as soon as the cancel commits (``order.cancelled``, through the
outbox like every effect of an order's change).
"""

from __future__ import annotations

from live import flash, tips
from live.models import ShelfItem
from live.services import LiveTopic
from shop.hooks import (
    register_handler,
    register_order_claim,
    register_page_model,
    register_payment_receiver,
    register_price_offer,
    register_sweep,
)
from shop.orders.topics import OrderTopic


def init_app(app) -> None:
    register_price_offer(app, flash.offers, flash.price_state)
    register_page_model(app, ShelfItem)
    register_order_claim(app, flash.claim)
    register_handler(app, OrderTopic.PAID, "live.jobs.settle_paid_live_order")
    register_handler(app, LiveTopic.RESERVATION_ENDS, "live.jobs.release_live_units")
    register_sweep(app, "live.jobs.end_silent_sessions", 60)
    register_sweep(app, "live.jobs.release_due_units", 60)
    register_handler(app, OrderTopic.CANCELLED, "live.jobs.release_live_units")
    register_handler(app, LiveTopic.STATUS, "live.jobs.send_reminders")
    register_payment_receiver(app, tips.PURPOSE, tips.receive_payment)
