"""What happens to commission that other packages act on, as outbox topics
(``shop.infra.outbox``): each is published in the transaction of the change."""

import enum


class CommissionTopic(enum.StrEnum):
    ACCRUED = "commission.accrued"  # (order_id)
    SETTLED = "commission.settled"  # (order_id)
    REVERSED = "commission.reversed"  # (order_id, refund_id)
    PAYOUT_PAID = "payout.paid"  # (payout_id)


class BindingTopic(enum.StrEnum):
    # (customer_id, previous sharer_id or None, sharer_id, how, at): the sharer (a guide or a
    # promoter) a known customer is bound to changed; ``how`` is a ``GuideChange``.
    GUIDE_CHANGED = "customer.guide_changed"


class GuideChange(enum.StrEnum):
    BOUND = "bound"  # the customer's first binding (adopted at their order)
    REPLACED = "replaced"  # another sharer's link took the customer over
    TRANSFERRED = "transferred"  # their guide left and handed them on
