"""The programme's rules hold whoever calls the services (not only the admin): each refusal is a
domain error with its code, and nothing is changed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from distribution import acquisition, guides, programme, rules
from distribution.factories import make_guide, make_promoter
from distribution.guides import transfer_customers
from distribution.models import AcquisitionCost, CommissionRule, Sharer
from distribution.sharing import settings
from shop.customers.models import Customer
from shop.demo.factories import make_staff
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.staff.models import AuditLog, Role, Staff
from tests.support.shop import small_catalog


@pytest.fixture
def owner(ctx):
    staff = make_staff("owner@test", "owner-password", Role.OWNER)
    db.session.commit()
    return staff


def refused(code: str):
    """``with refused("rule_published"):`` the block raises a domain error with that code."""
    return pytest.raises(ShopError, check=lambda error: error.code == code)


def test_a_published_rule_never_changes_and_only_drafts_are_deleted(owner):
    draft = CommissionRule(scope="default", kind="percent", level1_value=1200, level2_value=0)
    rules.save_draft(draft)
    assert draft.status == "draft"
    db.session.add(draft)
    db.session.commit()
    rules.check_delete(draft)  # a draft may go
    with unit_of_work():
        rules.publish(draft.id, owner)
    published = db.session.get(CommissionRule, draft.id)
    published.level1_value = 5000
    with refused("rule_published"):
        rules.save_draft(published)
    with refused("rule_published"):
        rules.check_delete(published)
    with refused("rule_published"):
        with unit_of_work():
            rules.publish(published.id, owner)


def test_a_rule_must_be_usable(owner):
    with refused("invalid_rule"):
        rules.save_draft(CommissionRule(scope="product", scope_id=0, kind="percent"))
    over = CommissionRule(scope="default", kind="percent", level1_value=20000, level2_value=0)
    with refused("invalid_rule") as caught:
        rules.save_draft(over)
    assert caught.value.message == "A percentage rule cannot pay more than 100%."


def test_adding_a_guide_creates_their_login(owner):
    store, _category, _product = small_catalog()
    guide = Sharer(name="Sun Li", store=store, phone="139 0000 7777")
    db.session.add(guide)
    login = guides.add_guide(guide, " Sun.Li@Guides.test ", "a-long-password", owner)
    db.session.commit()
    assert (guide.kind, guide.status, guide.phone, guide.staff_id) == (
        "guide",
        "active",
        "13900007777",
        login.id,
    )
    assert (login.email, login.role, login.store_ids) == (
        "sun.li@guides.test",
        Role.GUIDE,
        [store.id],
    )
    assert login.check_password("a-long-password")
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.create"))
    assert entry.after["store_ids"] == [store.id] and entry.staff_id == owner.id


def test_a_guide_needs_a_store_an_unused_address_and_a_password(owner):
    store, _category, _product = small_catalog()
    make_guide(store, "Li Na", email="li.na@guides.test")
    db.session.commit()
    cases = [
        (dict(store=None), "li.new@guides.test", "a-long-password", "invalid_input"),
        (dict(store=store), "not-an-address", "a-long-password", "invalid_input"),
        (dict(store=store), "LI.NA@guides.test", "a-long-password", "already_taken"),
        (dict(store=store), "li.new@guides.test", "", "invalid_input"),
        (dict(store=store, phone="12"), "li.new@guides.test", "a-long-password", "invalid_input"),
    ]
    for fields, email, password, code in cases:
        guide = Sharer(name="Li New", **fields)
        with refused(code):
            guides.add_guide(guide, email, password, owner)
        db.session.rollback()
    assert db.session.scalar(select(Staff.id).where(Staff.email == "li.new@guides.test")) is None


def test_only_an_active_guide_leaves(owner):
    store, _category, _product = small_catalog()
    guide = make_guide(store, "Li Na")
    promoter = make_promoter("Zhao Lei", "13900001111", parent=guide)
    db.session.commit()
    with refused("invalid_transition"):
        with unit_of_work():
            transfer_customers(promoter, [guide], staff=owner)


def test_programme_validity_is_not_shorter_than_protection(ctx):
    row = settings()
    row.protection_days, row.validity_days = 15, 7
    with refused("invalid_input"):
        programme.check_settings(row)
    row.validity_days = 0  # valid for good
    programme.check_settings(row)


def test_one_acquisition_cost_per_customer(ctx):
    customer = Customer(phone="13812341234", name="Li Lei")
    db.session.add(customer)
    first = AcquisitionCost(customer=customer, amount=6000)
    acquisition.check_cost(first, "CNY")
    db.session.add(first)
    db.session.commit()
    assert (first.currency, first.note) == ("CNY", "")
    with refused("already_taken"):
        acquisition.check_cost(AcquisitionCost(customer=customer, amount=100), "CNY")
    with refused("invalid_input"):
        acquisition.check_cost(AcquisitionCost(amount=100), "CNY")


def test_a_rule_names_something_that_exists(owner):
    small_catalog()
    rule = CommissionRule(
        scope="product", scope_id=999, kind="percent", level1_value=1000, level2_value=0
    )
    with refused("invalid_rule"):
        rules.save_draft(rule)
