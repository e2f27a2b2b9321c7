"""What happens to a member's tier, points and coupons that other packages act on, as outbox
topics (``shop.infra.outbox``): each is published in the transaction of the change."""

import enum


class MemberTopic(enum.StrEnum):
    TIER_CHANGED = "member.tier_changed"  # (customer_id, previous tier_id, tier_id, reason, at)
    POINTS_CHANGED = "points.changed"  # (points_entry_id): one per ledger entry
    COUPON_CLAIMED = "coupon.claimed"  # (coupon_id): claimed, given or bought
    COUPON_REDEEMED = "coupon.redeemed"  # (coupon_id, order_id): used by an order


class TierChange(enum.StrEnum):
    """Why a member's tier moved (the last argument but one of ``TIER_CHANGED``)."""

    EARNED = "earned"  # the tasks of a higher tier were met
    STAFF = "staff"  # set by hand in the admin
    RETENTION = "retention"  # not re-qualified within the tier's window
