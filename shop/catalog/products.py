"""What a product and its variants must satisfy, whoever saves them (the admin, an import)."""

from __future__ import annotations

from flask_babel import gettext as _

from shop.catalog.models import Product, Variant
from shop.catalog.sanitize import clean_html
from shop.errors import InvalidInput


def tidy_product(product: Product) -> None:
    """Descriptions (in both languages) are stored sanitized (``shop.catalog.sanitize``;
    cleaned again when shown)."""
    product.description_html = clean_html(product.description_html)
    product.description_html_en = clean_html(product.description_html_en or "")


def check_variant(variant: Variant) -> None:
    """A limited-time price has a start and an end, the start first. Raises ``InvalidInput``."""
    starts, ends = variant.sale_starts_at, variant.sale_ends_at
    if variant.sale_price is not None and not (starts and ends and starts < ends):
        raise InvalidInput(_("A limited-time price needs a start and an end, the start first."))


def announce_update(product_id: int) -> None:
    """Publish ``product.updated`` (webhooks) in the transaction of the change. Does not
    commit."""
    from shop.catalog.topics import ProductTopic
    from shop.infra import outbox
    from shop.infra.clock import utcnow

    outbox.publish(ProductTopic.UPDATED, product_id, utcnow().isoformat())
