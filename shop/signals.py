"""Events the shop announces, always after the transaction that caused them has committed.

Receivers get ``order_id`` and must be idempotent per order: a webhook replay or a job that
runs twice can deliver the same event again.
"""

from blinker import Namespace

_signals = Namespace()

order_placed = _signals.signal("order-placed")
order_paid = _signals.signal("order-paid")
order_refunded = _signals.signal("order-refunded")
order_cancelled = _signals.signal("order-cancelled")
