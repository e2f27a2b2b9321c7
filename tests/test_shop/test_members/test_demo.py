"""The demo membership: loaded once by ``flask demo-data``, however often it runs."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.customers.models import Customer
from shop.demo.members import DEMO_MEMBER
from shop.extensions import db
from shop.members import points
from shop.members.models import CouponTemplate, MemberTier, PointsShopItem


def _counts():
    db.session.expire_all()
    return tuple(
        db.session.scalar(select(func.count(model.id)))
        for model in (MemberTier, CouponTemplate, PointsShopItem, Customer)
    )


def test_demo_membership_is_loaded_once(runner, ctx):
    first = runner.invoke(args=["demo-data"])
    assert first.exit_code == 0, first.output
    assert f"Member: sign in at http://localhost/signin as {DEMO_MEMBER[1]}" in first.output
    loaded = _counts()
    again = runner.invoke(args=["demo-data"])
    assert again.exit_code == 0 and "Member: sign in" in again.output
    assert _counts() == loaded

    tiers = db.session.scalars(select(MemberTier).order_by(MemberTier.rank)).all()
    assert [t.name_en for t in tiers] == ["Silver", "Gold", "Platinum"]
    assert [t.name for t in tiers] == ["银卡", "金卡", "白金卡"]
    assert {task.kind for task in tiers[1].tasks} == {"buy_product", "refer"}
    kinds = set(db.session.scalars(select(CouponTemplate.kind)))
    assert kinds == {"fixed", "percent", "threshold", "free_shipping"}
    flash = db.session.scalar(select(CouponTemplate).where(CouponTemplate.total_quantity == 10))
    assert flash is not None and f"/coupons/{flash.id}" in first.output
    rules = points.settings()
    assert rules.welcome_template_id and rules.referral_reward_template_id
    member = db.session.scalar(select(Customer).where(Customer.phone == DEMO_MEMBER[1]))
    assert member.points_balance == 2000 and member.referral_code
    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0, verify.output
