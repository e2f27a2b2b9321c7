"""The benchmark's shop: one store, one product page as a customer sees it, and stock to sell.

The product has three variants, three images, a description, ten paid orders (so the page
shows "someone in <city> just bought") and ten approved reviews. Its "Bulk" variant holds a
billion units, so the order-placement run and pgbench never sell out. The orders and reviews
go through the shop's own services, as a real shop's would.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop import checkout, orders, reviews
from shop.extensions import db
from shop.factories import make_category, make_image, make_product, make_staff, make_store
from shop.models import Role

PRODUCT_SLUG = "bench-jasmine-tea"
HUGE_STOCK = 1_000_000_000
PAID_ORDERS = 10


@dataclass
class Seeded:
    slug: str
    store_id: int
    variant_id: int  # the variant with HUGE_STOCK


def seed() -> Seeded:
    """Fill an empty, migrated database. Needs an app and a request context."""
    store = make_store("Bench Flagship", "Shanghai", "1 Nanjing West Rd")
    staff = make_staff("bench-owner@siyu.test", "bench-password-2026", Role.OWNER)
    product = make_product(
        "Jasmine Green Tea",
        slug=PRODUCT_SLUG,
        category=make_category("Tea"),
        store=store,
        description=(
            "<p>Spring-picked jasmine tea from <strong>Fujian</strong>, scented five times.</p>"
            "<ul><li>Light</li><li>Floral</li><li>Best at 80 °C</li></ul>"
        ),
        variants=[("50 g", 4800, 500), ("100 g", 8800, 500), ("Bulk", 2000, HUGE_STOCK)],
    )
    for colour in ((76, 140, 74), (120, 170, 160), (150, 96, 40)):
        make_image(product, colour)
    db.session.commit()
    small = product.variants[0]
    for n in range(PAID_ORDERS):
        order = checkout.place_order(
            [(small.id, 1)],
            checkout.CheckoutDetails(
                name=f"Buyer {n}",
                phone=f"1390000{n:04d}",
                fulfilment="pickup",
                payment_method="store",
                pickup_store_id=store.id,
            ),
            f"bench-seed-order-{n:04d}",
        )
        orders.mark_paid_at_store(order.id, staff)
        review = reviews.submit_review(
            order, order.lines[0].id, 4 + n % 2, "Fragrant and fresh, will buy again."
        )
        reviews.moderate(review, "approved", staff)
    return Seeded(slug=PRODUCT_SLUG, store_id=store.id, variant_id=product.variants[2].id)
