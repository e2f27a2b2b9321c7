"""What happens to a customer that other packages act on, as outbox topics."""

import enum


class CustomerTopic(enum.StrEnum):
    CREATED = "customer.created"  # (customer_id, store_id of the order that made them)
