"""The benchmark's shop: one store, one product page as a customer sees it, and stock to sell.

The product has three variants (one at a limited-time price, with its countdown), three images,
a description, ten paid orders (so the page shows "someone in <city> just bought"), ten approved
reviews, and a place on the shelf of the store's session, on air while the bench runs. Its
"Bulk" variant holds a billion units, so the order-placement run and pgbench never sell out. The
orders and reviews go through the shop's own services, as a real shop's would. A guide of the
store has a share link to the product (WeChat group channel), the link the share-link run opens.

``seed_due_commission`` adds, for the settlement run, paid orders past the return window and
their pending commission, written by three INSERT ... SELECT over generate_series.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import text

from distribution.factories import make_guide, make_promoter
from distribution.models import Channel, LinkTarget, Sharer
from distribution.sharing import link_for, settings
from live.factories import make_session, shelve
from shop.catalog import reviews
from shop.catalog.models import ReviewStatus, Variant
from shop.checkout import services as checkout
from shop.customers.models import Customer
from shop.demo.factories import make_category, make_image, make_product, make_staff, make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Fulfilment, Order, PaymentMethod
from shop.staff.models import Role

PRODUCT_SLUG = "bench-jasmine-tea"
HUGE_STOCK = 1_000_000_000
PAID_ORDERS = 10
SALE_LASTS = timedelta(hours=3)  # longer than any bench run


@dataclass
class Seeded:
    slug: str
    store_id: int
    variant_id: int  # the variant with HUGE_STOCK
    share_code: str  # the guide's link to the product
    sharer_id: int  # that guide
    live_session_id: int  # the store's session on air, the product on its shelf


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
    for n in range(PAID_ORDERS):  # bought, paid, picked up and reviewed, each step its own work
        with unit_of_work():
            order = checkout.place_order(
                [(small.id, 1)],
                checkout.CheckoutDetails(
                    name=f"Buyer {n}",
                    phone=f"1390000{n:04d}",
                    fulfilment=Fulfilment.PICKUP,
                    payment_method=PaymentMethod.STORE,
                    pickup_store_id=store.id,
                ),
                f"bench-seed-order-{n:04d}",
            )
        with unit_of_work():
            orders.mark_paid_at_store(order.id, staff)
        with unit_of_work():
            orders.mark_picked_up(order.id, staff)
        with unit_of_work():
            order = db.session.get(Order, order.id, populate_existing=True)
            review = reviews.submit_review(
                order, order.lines[0].id, 4 + n % 2, "Fragrant and fresh, will buy again."
            )
            reviews.moderate(review, ReviewStatus.APPROVED, staff)
    guide = make_guide(store, "Bench Guide", "bench-guide@siyu.test")
    link = link_for(guide, LinkTarget.PRODUCT, product.id, Channel.WECHAT_GROUP)
    # Every feature of the page on: a limited-time price with its countdown on the 100 g, and a
    # session of the store on air with the product on its shelf (issue 12: the page's target
    # holds with a session live).
    now = utcnow()
    sale = product.variants[1]
    sale.sale_price, sale.sale_starts_at, sale.sale_ends_at = 7800, now, now + SALE_LASTS
    on_air = make_session(store, "Bench spring tea live", guide, on_air=True)
    shelve(on_air, product, 4200, cap=100, limit=2, variant=small)
    db.session.commit()
    return Seeded(
        slug=PRODUCT_SLUG,
        store_id=store.id,
        variant_id=product.variants[2].id,
        share_code=link.code,
        live_session_id=on_air.id,
        sharer_id=guide.id,
    )


# The settlement run's ledger. Each order has two lines: 1-3 units of the bulk variant and one
# of the small one. A promoter (level 1) recruited by the bench guide (level 2) earns on every
# line at the built-in default rates, 10 % and 5 % (rate_ppm: basis points × level multiplier
# 100 %), rounded half up as Rate.amount rounds, so `ledger verify` recomputes the same amounts.
_ORDERS = """
INSERT INTO orders (token, idempotency_key, customer_id, store_id, status, fulfilment,
    payment_method, contact_name, phone, province, city, district, address, note, currency,
    subtotal, discount, shipping, total, refunded_amount, needs_review, review_reason,
    created_at, paid_at, updated_at)
SELECT 'settle-' || i, 'settle-' || i, :customer_id, :store_id, 'paid', 'pickup', 'store',
    'Settle Buyer', :phone, '', '', '', '', '', :currency, t.total, 0, 0, t.total, 0, false, '',
    :paid_at, :paid_at, :paid_at
FROM generate_series(1, :orders) AS i,
    LATERAL (SELECT :bulk_price * (1 + i % 3) + :small_price AS total) AS t
"""
_LINES = """
INSERT INTO order_lines (order_id, variant_id, product_id, product_name, variant_name, sku,
    unit_price, quantity, line_total, refunded_quantity, refunded_amount)
SELECT o.id, v.id, p.id, p.name, v.name, v.sku, v.price, q.quantity, v.price * q.quantity, 0, 0
FROM orders o,
    LATERAL (VALUES (:bulk_id, (o.total - :small_price) / :bulk_price), (:small_id, 1))
        AS q (variant_id, quantity),
    variants v JOIN products p ON p.id = v.product_id
WHERE o.idempotency_key LIKE 'settle-%' AND v.id = q.variant_id
"""
_ACCRUALS = """
INSERT INTO commission_entries (entry_key, sharer_id, order_id, order_line_id, level, kind,
    bucket, amount, currency, rate_ppm, note, created_at)
SELECT concat('accrue:', l.id, ':', a.level), a.sharer_id, o.id, l.id, a.level, 'accrue',
    'pending', (l.line_total::bigint * a.rate_ppm * 2 + 1000000) / 2000000, o.currency,
    a.rate_ppm, a.note, o.paid_at
FROM orders o JOIN order_lines l ON l.order_id = o.id,
    (VALUES (1, :promoter_id, 100000, '10% (built-in default rule)'),
        (2, :guide_id, 50000, '5% (built-in default rule)')) AS a (level, sharer_id, rate_ppm, note)
WHERE o.idempotency_key LIKE 'settle-%'
"""


def seed_due_commission(seeded: Seeded, entries: int) -> int:
    """Paid orders whose return window closed a day ago, with ``entries`` pending accruals:
    entries / 4 orders of two lines, each line earning at two levels. Returns the pending sum.

    Three INSERT ... SELECT; the foreign-key triggers are off for this transaction only (as
    pg_restore --disable-triggers does): every reference is taken from rows it joins.
    """
    customer = Customer(phone="13800138000", name="Settle Buyer")
    db.session.add(customer)
    guide = db.session.get(Sharer, seeded.sharer_id)
    promoter = make_promoter("Bench Promoter", "13900009999", parent=guide)
    bulk = db.session.get(Variant, seeded.variant_id)
    small = bulk.product.variants[0]
    values = {
        "orders": entries // 4,
        "customer_id": customer.id,
        "store_id": seeded.store_id,
        "phone": customer.phone,
        "currency": current_app.config["SHOP_CURRENCY"],
        "paid_at": utcnow() - timedelta(days=settings().return_window_days + 1),
        "bulk_id": bulk.id,
        "bulk_price": bulk.price,
        "small_id": small.id,
        "small_price": small.price,
        "promoter_id": promoter.id,
        "guide_id": guide.id,
    }
    db.session.execute(text("SET LOCAL session_replication_role = replica"))
    for statement in (_ORDERS, _LINES, _ACCRUALS):
        db.session.execute(text(statement), values)
    pending = db.session.scalar(
        text("SELECT sum(amount) FROM commission_entries WHERE bucket = 'pending'")
    )
    db.session.commit()
    db.session.execute(text("ANALYZE orders, order_lines, commission_entries"))
    db.session.commit()
    return int(pending)
