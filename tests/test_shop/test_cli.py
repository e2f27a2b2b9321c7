"""Command-line verbs: ``ledger verify`` and ``create-admin``."""

from __future__ import annotations

from sqlalchemy import select, update

from shop.catalog.models import Variant
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.staff.models import Role, Staff
from tests.support.shop import make_owner, order_for, small_catalog


def test_ledger_verify_passes_on_a_consistent_database(runner, ctx):
    store, _, product = small_catalog(stock_qty=10)
    variant = product.variants[0]
    order = order_for(variant, store, quantity=3)
    with unit_of_work():
        orders.cancel(order.id, "test", staff=make_owner())
    order_for(variant, store, quantity=2)

    result = runner.invoke(args=["ledger", "verify"])

    assert result.exit_code == 0, result.output
    assert "All ledgers balance." in result.output
    assert "BREACH" not in result.output


def test_ledger_verify_fails_when_stock_is_tampered_with(runner, ctx):
    _, _, product = small_catalog(stock_qty=10)
    variant_id = product.variants[0].id
    db.session.execute(update(Variant).where(Variant.id == variant_id).values(stock=11))
    db.session.commit()

    result = runner.invoke(args=["ledger", "verify"])

    assert result.exit_code == 1
    assert f"BREACH variant {variant_id}: stock 11 but movements sum to 10" in result.output
    assert "All ledgers balance." not in result.output


def test_create_admin_makes_an_owner(runner, ctx):
    result = runner.invoke(
        args=["create-admin", "Boss@Example.com", "--password", "a long passphrase", "--name", "Bo"]
    )

    assert result.exit_code == 0, result.output
    assert "Owner boss@example.com is ready." in result.output
    staff = db.session.scalars(select(Staff)).one()
    assert (staff.email, staff.name, staff.role, staff.active) == (
        "boss@example.com",
        "Bo",
        Role.OWNER,
        True,
    )
    assert staff.check_password("a long passphrase")
    assert "a long passphrase" not in staff.password_hash


def test_create_admin_again_resets_the_password_and_refuses_short_ones(runner, ctx):
    runner.invoke(args=["create-admin", "boss@example.com", "--password", "a long passphrase"])

    short = runner.invoke(args=["create-admin", "boss@example.com", "--password", "short"])
    assert short.exit_code == 2
    assert "use at least 10 characters" in short.output

    again = runner.invoke(
        args=["create-admin", "BOSS@example.com", "--password", "another passphrase"]
    )
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    staff = db.session.scalars(select(Staff)).one()
    assert staff.check_password("another passphrase")
    assert not staff.check_password("a long passphrase")
