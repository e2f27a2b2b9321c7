"""Distribution jobs: plain functions taking ids, safe to run twice."""

from . import attribution, commission


def accrue_commission(order_id: int) -> int:
    """Pending commission for a paid order (attributing it first if that never happened)."""
    attribution.attribute_order(order_id)
    return commission.accrue_commission(order_id)


def reverse_commission(order_id: int, refund_id: int) -> int:
    return commission.reverse_commission(order_id, refund_id)


def settle_due_commissions() -> int:
    return commission.settle_due_commissions()
