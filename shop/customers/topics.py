"""What happens to a customer that other packages act on, as outbox topics."""

import enum


class CustomerTopic(enum.StrEnum):
    CREATED = "customer.created"  # (customer_id, store_id of the order that made them)
    # (customer_id, the fields changed joined by ",", at): the customer's own details (name,
    # city, address, who referred them). Tier and points have their own topics.
    UPDATED = "customer.updated"
