"""What happens to the catalog that other packages act on, as outbox topics
(``shop.infra.outbox``): each is published in the transaction of the change."""

import enum


class StockTopic(enum.StrEnum):
    LOW = "stock.low"  # (variant_id, cause): fell to STOCK_LOW_AT or below
    OUT = "stock.out"  # (variant_id, cause): none left


class ProductTopic(enum.StrEnum):
    UPDATED = "product.updated"  # (product_id, when)
