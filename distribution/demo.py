"""Demo distribution programme: guides in both stores, a promoter, a published default rule,
share links, and a few orders through them so the workbench and numbers have something."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from distribution.commission import accrue_commission, settle_due_commissions
from distribution.factories import make_guide, make_promoter
from distribution.models import (
    Channel,
    CommissionRule,
    LinkTarget,
    RuleKind,
    RuleScope,
    RuleStatus,
    Sharer,
    SharerLevel,
)
from distribution.sharing import link_for, open_link, settings
from shop.catalog.models import Product, Store
from shop.checkout.services import CheckoutDetails, place_order
from shop.demo.core import DEMO_PASSWORD
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Fulfilment, Order, PaymentMethod
from shop.staff.models import Role, Staff

DEMO_GUIDES = [  # name, login, store, phone (finance pays guides by phone)
    ("李娜", "li.na@siyu.test", 0, "13500000011"),
    ("王芳", "wang.fang@siyu.test", 0, "13500000012"),
    ("陈杰", "chen.jie@siyu.test", 1, "13500000013"),
]


def _lines() -> list[str]:
    base = current_app.config["PUBLIC_BASE_URL"]
    lines = [f"Guide workbench: {base}/guide"]
    lines += [f"  guide    {email}  password: {DEMO_PASSWORD}" for _n, email, _s, _p in DEMO_GUIDES]
    return lines


def load_demo() -> list[str]:
    """Idempotent: does nothing when the demo guides exist."""
    if db.session.scalar(select(Staff.id).where(Staff.email == DEMO_GUIDES[0][1])):
        return _lines()
    stores = list(db.session.scalars(select(Store).order_by(Store.id)))
    if not stores:
        return []
    settings()
    bronze = SharerLevel(name="铜牌推广员", rank=1, multiplier_pct=100)
    db.session.add_all(
        [
            bronze,
            SharerLevel(name="银牌推广员", rank=2, multiplier_pct=110, invites_needed=3),
            SharerLevel(
                name="金牌推广员",
                rank=3,
                multiplier_pct=120,
                invites_needed=10,
                team_sales_needed=500000,
            ),
        ]
    )
    db.session.add(
        CommissionRule(
            scope=RuleScope.DEFAULT,
            kind=RuleKind.PERCENT,
            level1_value=1000,
            level2_value=500,
            status=RuleStatus.PUBLISHED,
            version=1,
            published_at=utcnow(),
            note="默认规则：一级 10%，二级 5%",
        )
    )
    guides = [
        make_guide(stores[s], name, email, phone=phone, password=DEMO_PASSWORD)
        for name, email, s, phone in DEMO_GUIDES
    ]
    promoter = make_promoter("赵磊", "13900001111", parent=guides[0])
    for sharer in (*guides, promoter):
        sharer.level = bronze  # everyone starts in the level programme
    db.session.commit()

    owner = db.session.scalar(select(Staff).where(Staff.role == Role.OWNER).order_by(Staff.id))
    products = list(db.session.scalars(select(Product).order_by(Product.id).limit(4)))
    buyers = [
        ("Sun Mei", "13700000001", guides[0]),
        ("Zhou Yu", "13700000002", guides[0]),
        ("Wu Di", "13700000003", promoter),
        ("He Ping", "13700000004", guides[2]),
    ]
    paid: list[int] = []
    for index, (name, phone, sharer) in enumerate(buyers):
        product = products[index % len(products)]
        visitor = uuid.uuid4().hex
        link = link_for(sharer, LinkTarget.PRODUCT, product.id, Channel.WECHAT_GROUP)
        open_link(link, visitor, now=utcnow() - timedelta(days=2))
        store = sharer.store or stores[0]
        with unit_of_work():  # each order as a customer places it, and as staff take its money
            order = place_order(
                [(product.variants[0].id, 1)],
                CheckoutDetails(
                    name=name,
                    phone=phone,
                    fulfilment=Fulfilment.PICKUP,
                    payment_method=PaymentMethod.STORE,
                    pickup_store_id=store.id,
                    attribution={"visitor_id": visitor, "share_code": link.code},
                ),
                uuid.uuid4().hex,
            )
        if index < 3:
            with unit_of_work():
                orders.mark_paid_at_store(order.id, owner)
            paid.append(order.id)
    for sharer in db.session.scalars(select(Sharer)):
        link_for(sharer, LinkTarget.HOME, 0, Channel.MOMENTS)
    db.session.commit()
    _settle_older_sales(paid[:2])
    return _lines()


def _settle_older_sales(order_ids: list[int]) -> None:
    """Date these paid orders before the return window and settle their commission, so the
    demo has settled commission for finance to pay out. (Accruing again is a no-op when the
    outbox already did it in-process; with RQ it may not have run yet.)"""
    back = utcnow() - timedelta(days=settings().return_window_days + 3)
    for order_id in order_ids:
        order = db.session.get(Order, order_id)
        order.created_at, order.paid_at = back - timedelta(minutes=20), back
    db.session.commit()
    for order_id in order_ids:
        accrue_commission(order_id)
    settle_due_commissions()
