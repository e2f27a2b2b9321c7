"""On PostgreSQL, through HTTP: 300 buyers at once for 40 live units, at most 2 per customer.

Each buyer is a browser of its own (its session in the room, its CSRF token); 100 customers
each send three checkouts at once (1 or 2 units each), so the cap and the per-customer limit
are both raced. Exactly 40 units end up in orders, nobody holds more than 2, nobody gets a
500; then unpaid orders give their units back and a late payment for resold units is refunded.
"""

from __future__ import annotations

import html
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from live import flash
from live.models import BuyerTally, LiveClaim, ShelfItem
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders.models import Order, OrderLine, OrderStatus
from tests.support.live import on_air
from tests.support.members import SENT, pay
from tests.support.shop import checkout_form, serve

pytestmark = pytest.mark.postgres

BUYERS = 300
CUSTOMERS = 100
UNITS = 40
LIMIT = 2


@pytest.fixture
def app_config(app_config) -> dict:
    return {
        **app_config,
        "WTF_CSRF_ENABLED": True,
        "SMS_SENDER": "tests.support.members.CapturingSender",
    }


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"{name} missing from the checkout form"
    return match.group(1)


def _browser_in_room(base: str, session_id: int) -> requests.Session:
    """A browser that entered the room (where invite links lead): its session carries it."""
    browser = requests.Session()
    browser.get(f"{base}/live/{session_id}/enter", allow_redirects=False, timeout=120)
    return browser


def _units_in_orders() -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .join(Order)
        .where(Order.status != OrderStatus.CANCELLED, Order.live_session_id.is_not(None))
    )


def test_300_buyers_for_40_live_units_with_a_limit_of_2(app):
    with app.app_context():
        store_id, variant_id, _, session_id, item_id = on_air(cap=UNITS, limit=LIMIT)

    start = threading.Barrier(BUYERS, timeout=120)

    def buyer(n: int) -> tuple[int, str]:
        with _browser_in_room(base, session_id) as browser:
            page = browser.get(
                f"{base}/checkout", params={"variant": variant_id, "qty": 1}, timeout=120
            )
            assert page.status_code == 200, page.status_code
            assert "59.00" in page.text
            form = checkout_form(
                variant_id,
                store_id,
                phone=f"139{n % CUSTOMERS:08d}",
                qty=str(1 + n % 2),
                csrf_token=_hidden(page.text, "csrf_token"),
                idempotency_key=_hidden(page.text, "idempotency_key"),
            )
            start.wait()
            response = browser.post(
                f"{base}/checkout", data=form, allow_redirects=False, timeout=120
            )
            return response.status_code, response.text

    with serve(app) as base, ThreadPoolExecutor(BUYERS) as pool:
        results = list(pool.map(buyer, range(BUYERS)))

    statuses = Counter(status for status, _ in results)
    assert 500 not in statuses
    assert set(statuses) <= {303, 422}
    expected = {
        "Green Tea is sold out in this live session.",
        "Only 1 of Green Tea are left in this live session.",
        "You can buy at most 2 of Green Tea in this live session.",
    }
    for status, text in results:
        if status == 422:  # each refusal says why, in words the customer reads
            assert any(html.escape(reason, quote=False) in text for reason in expected), text[:300]

    with app.app_context():
        assert _units_in_orders() == UNITS
        assert db.session.get(ShelfItem, item_id).sold == UNITS
        per_customer = db.session.execute(
            select(Order.phone, func.sum(OrderLine.quantity)).join(OrderLine).group_by(Order.phone)
        ).all()
        assert max(units for _, units in per_customer) <= LIMIT
        assert all(o.lines[0].unit_price == 5900 for o in db.session.scalars(select(Order)))
        assert statuses[303] == db.session.scalar(select(func.count(Order.id)))
        assert db.session.scalar(select(func.sum(BuyerTally.units))) == UNITS

        # Nobody paid: when the live reservation ends, every unit goes back.
        first = db.session.scalar(select(Order).order_by(Order.id))
        assert flash.release_due(utcnow() + timedelta(minutes=16)) == statuses[303]
        db.session.expire_all()
        assert db.session.get(ShelfItem, item_id).sold == 0
        assert db.session.scalar(select(func.sum(BuyerTally.units))) == 0

        # Someone else buys them all; the first buyer's payment then arrives: refunded.
        from shop.checkout.services import place_order
        from tests.support.shop import details

        taken = 0
        for n in range(UNITS // LIMIT):
            with unit_of_work():
                order = place_order(
                    [(variant_id, LIMIT)],
                    details(
                        phone=f"137{n:08d}",
                        pickup_store_id=store_id,
                        attribution={"live_session_id": session_id},
                    ),
                    f"resale-{n:04d}-0000000000",
                )
            taken += order.lines[0].quantity
        assert taken == UNITS
        SENT.clear()
        assert pay(db.session.get(Order, first.id))
        db.session.expire_all()
        late = db.session.get(Order, first.id)
        assert late.status == OrderStatus.REFUNDED
        assert [phone for phone, _ in SENT] == [late.phone]
        assert db.session.get(ShelfItem, item_id).sold == UNITS
        assert (
            db.session.scalar(
                select(func.count(LiveClaim.id)).where(LiveClaim.released_at.is_(None))
            )
            == UNITS // LIMIT
        )
