"""Events the shop announces, after the transaction that caused them has committed.

These are notifications (``shop.infra.unit_of_work.after_commit`` sends them): a receiver gets
``order_id``, must be idempotent per order (a webhook replay or a job that runs twice can
deliver the same event again) and must not write through ``db.session``. Work an event owes
is an outbox topic (``shop.orders.topics``), written in the change's own transaction.

One event is sent before its commit: ``order_placing``, inside ``place_order``'s transaction
(the order and its lines written, its stock not yet taken), so what another domain records
about a new order (distribution's attribution) commits with the order, in one transaction.
Its receivers get the new ``order`` and ``customer_is_new`` (the order created its customer)
and only add rows through ``db.session``: they never commit, and what they add commits or
rolls back with the order. If one fails, ``place_order`` logs it and places the order without
them (see ``shop.checkout.services``).
"""

import logging

from blinker import Namespace

from shop.extensions import db

log = logging.getLogger(__name__)

_signals = Namespace()

order_placing = _signals.signal("order-placing")
order_placed = _signals.signal("order-placed")
order_paid = _signals.signal("order-paid")
order_refunded = _signals.signal("order-refunded")
order_cancelled = _signals.signal("order-cancelled")


def announce(signal, sender, **kwargs) -> None:
    """Send ``signal`` to every receiver; one that fails is logged and the others still run.

    The action that announced the event has already committed: a failing listener (say,
    attribution) must neither turn a placed order into an error page nor starve the rest.
    Each listener's work is also reachable by a job that repeats it (accrual attributes an
    order that was never attributed), so a failure here is recoverable.
    """
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **kwargs)
        except Exception:
            log.exception("receiver %r of %s failed for %r", receiver, signal.name, kwargs)
            db.session.rollback()
