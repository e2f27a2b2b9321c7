"""Demo membership: points rules, three tiers with tasks, coupon templates of every kind, a
points shop, and a member with points. Loaded by ``flask demo-data`` after the demo shop."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from shop.catalog.models import Category, Product
from shop.customers.models import Customer
from shop.extensions import db
from shop.hooks import register_demo_loader
from shop.infra.clock import utcnow
from shop.members import points, referrals
from shop.members.models import (
    CouponKind,
    CouponScope,
    CouponTemplate,
    MemberTier,
    PointsKind,
    PointsShopItem,
    TaskKind,
    TierTask,
)

DEMO_MEMBER = ("Lin Xiao", "13600000001")
GOLD_PRODUCT = "Oolong Gift Box"
VOUCHER_PRODUCT = "Almond Cookies"


def init_app(app) -> None:
    register_demo_loader(app, load_demo)


def _lines() -> list[str]:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    flash = db.session.scalar(
        select(CouponTemplate.id).where(CouponTemplate.total_quantity.is_not(None))
    )
    lines = [
        f"Member: sign in at {base}/signin as {DEMO_MEMBER[1]} (the code is in the log)",
        f"  points shop: {base}/points-shop",
    ]
    if flash:
        lines.append(f"  flash coupon (10 in all): {base}/coupons/{flash}")
    return lines


def _template(names: str, kind: str, **values) -> CouponTemplate:
    """``names``: "中文名 · English name"."""
    chinese, _sep, english = names.partition(" · ")
    template = CouponTemplate(name=chinese, name_en=english, kind=kind, **values)
    db.session.add(template)
    return template


def load_demo() -> list[str]:
    """Idempotent: does nothing when tiers exist."""
    if db.session.scalar(select(MemberTier.id)):
        return _lines()
    products = {p.name_en or p.name: p for p in db.session.scalars(select(Product))}
    teaware = db.session.scalar(select(Category).where(Category.name_en == "Teaware"))
    if GOLD_PRODUCT not in products or VOUCHER_PRODUCT not in products or teaware is None:
        return []
    now = utcnow()
    welcome = _template(
        "新人礼：满 50 减 10 · Welcome: ¥10 off ¥50",
        CouponKind.THRESHOLD,
        value=1000,
        threshold=5000,
        valid_days=30,
        claimable=False,
    )
    _template(
        "茶具 85 折 · 15% off teaware",
        CouponKind.PERCENT,
        value=1500,
        cap=3000,
        scope=CouponScope.CATEGORIES,
        scope_ids=[teaware.id],
        valid_days=30,
    )
    _template(
        "满 200 减 30 · Spend ¥200, save ¥30",
        CouponKind.THRESHOLD,
        value=3000,
        threshold=20000,
        valid_until=now + timedelta(days=60),
    )
    free_delivery = _template("包邮券 · Free delivery", CouponKind.FREE_SHIPPING, valid_days=14)
    _template(
        "限量：满 150 减 50 · Flash: ¥50 off ¥150",
        CouponKind.THRESHOLD,
        value=5000,
        threshold=15000,
        total_quantity=10,
        valid_until=now + timedelta(days=7),
    )
    thanks = _template(
        "感谢券：减 20 · Thank you: ¥20 off",
        CouponKind.FIXED,
        value=2000,
        valid_days=60,
        claimable=False,
    )
    for_friends = _template(
        "好友礼：满 60 减 15 · Friend's gift: ¥15 off ¥60",
        CouponKind.THRESHOLD,
        value=1500,
        threshold=6000,
        valid_days=30,
        claimable=False,
    )
    voucher = _template(
        "杏仁饼兑换券 · Almond Cookies voucher",
        CouponKind.FIXED,
        value=products[VOUCHER_PRODUCT].variants[0].price,
        scope=CouponScope.PRODUCTS,
        scope_ids=[products[VOUCHER_PRODUCT].id],
        valid_days=90,
        claimable=False,
        per_customer_limit=5,
        combinable_with_points=False,
    )
    gold_gift = _template(
        "金卡礼：满 200 减 50 · Gold gift: ¥50 off ¥200",
        CouponKind.THRESHOLD,
        value=5000,
        threshold=20000,
        valid_days=90,
        claimable=False,
    )
    db.session.flush()

    rules = points.settings()
    rules.points_per_unit = 1
    rules.referral_reward_points = 500
    rules.referral_reward_template_id = thanks.id
    rules.welcome_template_id = welcome.id
    rules.referral_friend_template_id = for_friends.id

    silver = MemberTier(
        name="银卡",
        name_en="Silver",
        description="九八折，积分 1.2 倍。",
        description_en="2% off every order and 1.2× points.",
        rank=1,
        discount_bp=200,
        points_multiplier_pct=120,
    )
    silver.tasks.append(TierTask(kind=TaskKind.SPEND, amount=50000, days=90))
    gold = MemberTier(
        name="金卡",
        name_en="Gold",
        description="九五折，积分 1.5 倍，全场包邮，另送满 200 减 50 券。",
        description_en="5% off, 1.5× points, free delivery and a ¥50-off-¥200 coupon.",
        rank=2,
        discount_bp=500,
        points_multiplier_pct=150,
        free_shipping_from=0,
        benefit_template_id=gold_gift.id,
    )
    gold.tasks.append(TierTask(kind=TaskKind.BUY_PRODUCT, product_id=products[GOLD_PRODUCT].id))
    gold.tasks.append(TierTask(kind=TaskKind.REFER, count=2))
    platinum = MemberTier(
        name="白金卡",
        name_en="Platinum",
        description="九二折，积分 2 倍，全场包邮。",
        description_en="8% off, double points and free delivery.",
        rank=3,
        discount_bp=800,
        points_multiplier_pct=200,
        free_shipping_from=0,
        retention_days=365,
    )
    platinum.tasks.append(TierTask(kind=TaskKind.SPEND, amount=300000, days=365))
    platinum.tasks.append(TierTask(kind=TaskKind.REFER, count=5))
    db.session.add_all([silver, gold, platinum])
    db.session.add_all(
        [
            PointsShopItem(template=voucher, points_price=1500),
            PointsShopItem(template=free_delivery, points_price=300),
        ]
    )

    name, phone = DEMO_MEMBER
    member = db.session.scalar(select(Customer).where(Customer.phone == phone))
    if member is None:
        member = Customer(name=name, phone=phone, city="上海")
        db.session.add(member)
    db.session.flush()
    points.post(
        member.id,
        2000,
        PointsKind.ADJUST,
        f"demo:{member.id}",
        expires_at=now + timedelta(days=365),
        note="演示账户期初积分",
    )
    db.session.commit()
    referrals.referral_code(member.id)
    return _lines()
