"""What happens to an order that other packages act on, as outbox topics (``shop.infra.outbox``).

Each is published in the transaction of the change, with the arguments its handlers get.
"""

import enum


class OrderTopic(enum.StrEnum):
    PLACED = "order.placed"  # (order_id, locale): the customer's language at checkout
    PAID = "order.paid"  # (order_id)
    CANCELLED = "order.cancelled"  # (order_id)
    FULFILLED = "order.fulfilled"  # (order_id)
    PICKED_UP = "order.picked_up"  # (order_id)
    REFUNDED = "order.refunded"  # (order_id, refund_id)
    RESERVATION_ENDS = "order.reservation_ends"  # (order_id), due when the reservation ends
