"""Distribution jobs: plain functions taking ids, safe to run twice."""

from distribution import attribution, commission, levels


def accrue_commission(order_id: int) -> int:
    """Pending commission for a paid order (attributing it first if that never happened)."""
    attribution.attribute_order(order_id)
    return commission.accrue_commission(order_id)


def reverse_commission(order_id: int, refund_id: int) -> int:
    return commission.reverse_commission(order_id, refund_id)


def settle_due_commissions() -> int:
    return commission.settle_due_commissions()


def evaluate_levels(order_id: int) -> None:
    """A paid order may lift its sharer (team sales) or their parent to a new level."""
    levels.evaluate_for_order(order_id)
