"""Demo data, in Chinese and English: two stores, a dozen products with variants and drawn
pictures, one staff user per role, and a few picked-up orders with approved reviews."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from shop.catalog import reviews
from shop.catalog.models import ReviewStatus, Store, Variant
from shop.checkout.services import CheckoutDetails, place_order
from shop.demo.factories import make_category, make_picture, make_product, make_staff, make_store
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Fulfilment, Order, PaymentMethod
from shop.staff.models import Role, Staff

DEMO_PASSWORD = "siyu-demo-2026"
DEMO_STAFF = [
    ("owner@siyu.test", Role.OWNER, None),
    ("manager@siyu.test", Role.MANAGER, 0),
    ("manager2@siyu.test", Role.MANAGER, 1),
    ("finance@siyu.test", Role.FINANCE, None),
    ("support@siyu.test", Role.SUPPORT, None),
]

_STORES = [  # Chinese name, English name, city, address (as the shop's customers write them)
    ("静安旗舰店", "Jing'an Flagship", "上海", "南京西路1号"),
    ("天河店", "Tianhe Store", "广州", "天河路88号"),
]

_CATEGORIES = [  # Chinese name, English name, Chinese description, English description
    ("茶叶", "Tea", "产地直采的好茶。", "Good tea, bought where it grows."),
    ("茶具", "Teaware", "泡茶、喝茶的器物。", "Things to brew and drink tea with."),
    ("礼品", "Gifts", "送人自用两相宜。", "To give, or to keep."),
    ("零食", "Snacks", "配茶的小点心。", "Small bites to go with tea."),
]

_PRODUCTS = [
    # Chinese name, English name, category index, store index (None: head office), picture
    # (kind, colour), variants, Chinese description, English description
    (
        "茉莉绿茶",
        "Jasmine Green Tea",
        0,
        None,
        ("tin", (76, 140, 74)),
        [("50 克", 4800, 40, "50 g"), ("100 克", 8800, 25, "100 g")],
        "<p>福建春采茉莉花茶。</p><ul><li>清淡</li><li>花香</li></ul>",
        "<p>Spring-picked jasmine tea from Fujian.</p><ul><li>Light</li><li>Floral</li></ul>",
    ),
    (
        "乌龙茶礼盒",
        "Oolong Gift Box",
        0,
        0,
        ("box", (150, 40, 40)),
        [("", 26800, 12)],
        "<p>四罐<strong>铁观音</strong>，礼盒装。</p>",
        "<p>Four tins of <strong>Tieguanyin</strong> in a gift box.</p>",
    ),
    (
        "普洱茶饼 357 克",
        "Pu'er Cake 357 g",
        0,
        1,
        ("cake", (90, 60, 40)),
        [("", 19900, 8)],
        "<p>2018 年熟普洱。</p>",
        "<p>Aged 2018 ripe Pu'er.</p>",
    ),
    (
        "青瓷茶杯",
        "Celadon Teacup",
        1,
        0,
        ("cup", (120, 170, 160)),
        [("单只", 6800, 30, "Single"), ("一对", 12800, 15, "Pair")],
        "<p>龙泉青瓷，手工拉坯。</p>",
        "<p>Hand-thrown Longquan celadon.</p>",
    ),
    (
        "旅行茶具套装",
        "Travel Tea Set",
        1,
        None,
        ("tea_set", (60, 90, 130)),
        [("灰", 15900, 10, "Grey"), ("蓝", 15900, 10, "Blue")],
        "<p>一壶四杯，附软包。</p>",
        "<p>A pot and four cups in a padded case.</p>",
    ),
    (
        "玻璃茶壶 600 毫升",
        "Glass Teapot 600 ml",
        1,
        1,
        ("glass_teapot", (200, 215, 225)),
        [("", 9900, 20)],
        "<p>耐热高硼硅玻璃。</p>",
        "<p>Heat-resistant borosilicate glass.</p>",
    ),
    (
        "真丝围巾",
        "Silk Scarf",
        2,
        0,
        ("scarf", (180, 40, 70)),
        [("红", 29900, 6, "Red"), ("墨", 29900, 6, "Ink")],
        "<p>桑蚕丝，90 × 90 厘米。</p>",
        "<p>Mulberry silk, 90 × 90 cm.</p>",
    ),
    (
        "亚麻托特包",
        "Linen Tote Bag",
        2,
        1,
        ("bag", (200, 180, 140)),
        [("", 7900, 50)],
        "<p>水洗亚麻。</p>",
        "<p>Washed linen.</p>",
    ),
    (
        "竹制茶盘",
        "Bamboo Tray",
        1,
        None,
        ("tray", (160, 130, 70)),
        [("小", 5900, 18, "Small"), ("大", 8900, 9, "Large")],
        "<p>碳化竹茶盘。</p>",
        "<p>Carbonised bamboo tea tray.</p>",
    ),
    (
        "桂花蜜",
        "Osmanthus Honey",
        3,
        0,
        ("jar", (230, 170, 40)),
        [("250 g", 5600, 35)],
        "<p>天然原蜜。</p>",
        "<p>Raw honey.</p>",
    ),
    (
        "杏仁饼",
        "Almond Cookies",
        3,
        1,
        ("cookies", (210, 160, 100)),
        [("12 块装", 3800, 60, "Box of 12")],
        "<p>澳门风味，现烤。</p>",
        "<p>Baked in Macau style.</p>",
    ),
    (
        "月饼礼盒",
        "Mooncake Box",
        3,
        None,
        ("mooncakes", (140, 30, 30)),
        [("莲蓉", 16800, 20, "Lotus"), ("红豆", 15800, 20, "Red bean")],
        "<p>四只装，<em>季节限定</em>。</p>",
        "<p>Four mooncakes, <em>limited season</em>.</p>",
    ),
]

#: a second picture of some products: (English name, colour, backdrop)
_SECOND_PICTURES = {
    "Travel Tea Set": ((120, 124, 130), None),
    "Silk Scarf": ((40, 44, 60), None),
    "Jasmine Green Tea": ((76, 140, 74), (240, 225, 190)),
    "Celadon Teacup": ((120, 170, 160), (235, 225, 210)),
    "Oolong Gift Box": ((150, 40, 40), (230, 215, 180)),
}

#: approved reviews of picked-up orders: English product name, buyer, phone, stars, text
_REVIEWS = [
    ("Jasmine Green Tea", "王芳", "13800000101", 5, "香气很足，回甘明显，会回购。"),
    ("Jasmine Green Tea", "Emily Chen", "13800000102", 4, "Lovely floral tea, brews well twice."),
    ("Celadon Teacup", "李雷", "13800000103", 5, "釉色温润，拿在手里很舒服。"),
    ("Oolong Gift Box", "张伟", "13800000104", 5, "包装精美，送长辈很体面。"),
    ("Almond Cookies", "Tom Wu", "13800000105", 4, "Crumbly and not too sweet."),
]


def load_demo_data() -> bool:
    """Create the demo shop once; returns False when it is already there."""
    if db.session.scalar(select(Staff).where(Staff.email == DEMO_STAFF[0][0])):
        return False
    stores: list[Store] = [
        make_store(name, city, address, name_en=name_en) for name, name_en, city, address in _STORES
    ]
    stores[0].is_default = True  # owns delivery orders that no guide's link brought
    categories = [
        make_category(name, i, name_en=name_en, description=about, description_en=about_en)
        for i, (name, name_en, about, about_en) in enumerate(_CATEGORIES)
    ]
    products = {}
    for name, name_en, cat, store, picture, variants, description, description_en in _PRODUCTS:
        product = make_product(
            name,
            name_en=name_en,
            variants=variants,
            category=categories[cat],
            store=stores[store] if store is not None else None,
            description=description,
            description_en=description_en,
        )
        kind, colour = picture
        make_picture(product, kind, colour)
        if name_en in _SECOND_PICTURES:
            make_picture(product, kind, *_SECOND_PICTURES[name_en], position=1)
        products[name_en] = product
    variant = db.session.scalar(select(Variant).order_by(Variant.id))  # a limited-time price
    variant.sale_price = 3900
    variant.sale_starts_at = utcnow() - timedelta(hours=1)
    variant.sale_ends_at = utcnow() + timedelta(days=3)
    products["Celadon Teacup"].variants[0].compare_at_price = 8800
    for email, role, store in DEMO_STAFF:
        make_staff(email, DEMO_PASSWORD, role, stores=[stores[store]] if store is not None else [])
    db.session.commit()
    _reviewed_orders(products, stores[0])
    return True


def _reviewed_orders(products: dict, store: Store) -> None:
    """Orders picked up at the store and reviewed, the reviews approved: the product pages'
    sales counts and reviews. Each step is its own unit of work, as in the shop."""
    owner = db.session.scalar(select(Staff).where(Staff.email == DEMO_STAFF[0][0]))
    for days_ago, (product_name, buyer, phone, stars, text) in enumerate(_REVIEWS, start=3):
        product = products[product_name]
        with unit_of_work():
            order = place_order(
                [(product.variants[0].id, 1)],
                CheckoutDetails(
                    name=buyer,
                    phone=phone,
                    fulfilment=Fulfilment.PICKUP,
                    payment_method=PaymentMethod.STORE,
                    pickup_store_id=store.id,
                ),
                uuid.uuid4().hex,
            )
        with unit_of_work():
            orders.mark_paid_at_store(order.id, owner)
        with unit_of_work():
            orders.mark_picked_up(order.id, owner)
        with unit_of_work():
            order = db.session.get(Order, order.id, populate_existing=True)
            review = reviews.submit_review(order, order.lines[0].id, stars, text)
            reviews.moderate(review, ReviewStatus.APPROVED, owner)
            review.created_at = utcnow() - timedelta(days=days_ago)
