"""Demo data: two stores, a dozen products with variants and images, one staff user per role."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shop.catalog.models import Store, Variant
from shop.demo.factories import make_category, make_image, make_product, make_staff, make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.staff.models import Role, Staff

DEMO_PASSWORD = "siyu-demo-2026"
DEMO_STAFF = [
    ("owner@siyu.test", Role.OWNER, None),
    ("manager@siyu.test", Role.MANAGER, 0),
    ("manager2@siyu.test", Role.MANAGER, 1),
    ("finance@siyu.test", Role.FINANCE, None),
    ("support@siyu.test", Role.SUPPORT, None),
]

_PRODUCTS = [
    # name, category index, store index (None: head office), colour, variants, description
    (
        "Jasmine Green Tea",
        0,
        None,
        (76, 140, 74),
        [("50 g", 4800, 40), ("100 g", 8800, 25)],
        "<p>Spring-picked jasmine tea from Fujian.</p><ul><li>Light</li><li>Floral</li></ul>",
    ),
    (
        "Oolong Gift Box",
        0,
        0,
        (150, 96, 40),
        [("", 26800, 12)],
        "<p>Four tins of <strong>Tieguanyin</strong> in a gift box.</p>",
    ),
    ("Pu'er Cake 357 g", 0, 1, (90, 60, 40), [("", 19900, 8)], "<p>Aged 2018 ripe Pu'er.</p>"),
    (
        "Celadon Teacup",
        1,
        0,
        (120, 170, 160),
        [("Single", 6800, 30), ("Pair", 12800, 15)],
        "<p>Hand-thrown Longquan celadon.</p>",
    ),
    (
        "Travel Tea Set",
        1,
        None,
        (60, 90, 130),
        [("Grey", 15900, 10), ("Blue", 15900, 10)],
        "<p>A pot and four cups in a padded case.</p>",
    ),
    (
        "Glass Teapot 600 ml",
        1,
        1,
        (170, 190, 200),
        [("", 9900, 20)],
        "<p>Heat-resistant borosilicate glass.</p>",
    ),
    (
        "Silk Scarf",
        2,
        0,
        (180, 40, 70),
        [("Red", 29900, 6), ("Ink", 29900, 6)],
        "<p>Mulberry silk, 90 × 90 cm.</p>",
    ),
    ("Linen Tote Bag", 2, 1, (200, 180, 140), [("", 7900, 50)], "<p>Washed linen.</p>"),
    (
        "Bamboo Tray",
        1,
        None,
        (160, 130, 70),
        [("Small", 5900, 18), ("Large", 8900, 9)],
        "<p>Carbonised bamboo tea tray.</p>",
    ),
    ("Osmanthus Honey", 3, 0, (230, 170, 40), [("250 g", 5600, 35)], "<p>Raw honey.</p>"),
    (
        "Almond Cookies",
        3,
        1,
        (210, 160, 100),
        [("Box of 12", 3800, 60)],
        "<p>Baked in Macau style.</p>",
    ),
    (
        "Mooncake Box",
        3,
        None,
        (140, 30, 30),
        [("Lotus", 16800, 20), ("Red bean", 15800, 20)],
        "<p>Four mooncakes, <em>limited season</em>.</p>",
    ),
]


def load_demo_data() -> bool:
    """Create the demo shop once; returns False when it is already there."""
    if db.session.scalar(select(Staff).where(Staff.email == DEMO_STAFF[0][0])):
        return False
    stores: list[Store] = [
        make_store("Jing'an Flagship", "Shanghai", "1 Nanjing West Rd"),
        make_store("Tianhe Store", "Guangzhou", "88 Tianhe Rd"),
    ]
    categories = [make_category(n, i) for i, n in enumerate(["Tea", "Teaware", "Gifts", "Snacks"])]
    for name, cat, store, colour, variants, description in _PRODUCTS:
        product = make_product(
            name,
            variants=variants,
            category=categories[cat],
            store=stores[store] if store is not None else None,
            description=description,
        )
        make_image(product, colour)
    variant = db.session.scalar(select(Variant).order_by(Variant.id))  # a limited-time price
    variant.sale_price = 3900
    variant.sale_starts_at = utcnow() - timedelta(hours=1)
    variant.sale_ends_at = utcnow() + timedelta(days=3)
    for email, role, store in DEMO_STAFF:
        make_staff(email, DEMO_PASSWORD, role, stores=[stores[store]] if store is not None else [])
    db.session.commit()
    return True
