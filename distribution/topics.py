"""What happens to commission that other packages act on, as outbox topics
(``shop.infra.outbox``): each is published in the transaction of the change."""

import enum


class CommissionTopic(enum.StrEnum):
    ACCRUED = "commission.accrued"  # (order_id)
    SETTLED = "commission.settled"  # (order_id)
    REVERSED = "commission.reversed"  # (order_id, refund_id)
    PAYOUT_PAID = "payout.paid"  # (payout_id)
