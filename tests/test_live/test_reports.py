"""Session reports: paid GMV net of refunds with unpaid apart, replay orders apart, per product,
per pin window and per inviter; the home page's live block; the workbench's."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import render_template_string
from sqlalchemy import select

from distribution.factories import make_guide
from live import invites, reports, services
from live.factories import make_session, shelve
from live.models import LiveSession
from shop.demo.factories import make_product
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order
from tests.support.members import pay
from tests.support.shop import checkout_form, small_catalog


def _order(client, store_id, variant_id, phone, qty=1):
    form = checkout_form(variant_id, store_id, phone=phone, qty=str(qty))
    assert client.post("/checkout", data=form).status_code == 303
    return db.session.scalar(select(Order).where(Order.phone == phone))


def test_the_report_counts_what_was_paid_less_refunds(app):
    with app.app_context():
        store, _, tea = small_catalog(stock_qty=50, price=9900)
        cup = make_product("Cup", price=3000, stock_qty=50, store=store)
        guide = make_guide(store, "Anna")
        session = make_session(store, host=guide, on_air=True)
        tea_item = shelve(session, tea, 5000)
        cup_item = shelve(session, cup, 2000)
        link = invites.invite_link(guide, session)
        db.session.commit()
        ids = (store.id, tea.variants[0].id, cup.variants[0].id, session.id)
        code, tea_item, cup_item = link.code, tea_item.id, cup_item.id

    store_id, tea_v, cup_v, session_id = ids
    invited, plain = app.test_client(), app.test_client()
    invited.get(f"/s/{code}", follow_redirects=True)
    plain.get(f"/live/{session_id}/enter")
    with app.app_context():
        with unit_of_work():
            services.pin(session_id, tea_item)
        paid = _order(invited, store_id, tea_v, "13900000001", qty=2)  # 100.00, tea pinned
        pay(paid)
        with unit_of_work():
            services.pin(session_id, cup_item)
        unpaid = _order(plain, store_id, cup_v, "13900000002")  # 20.00, never paid
        refunded = _order(plain, store_id, cup_v, "13900000003")  # 20.00 paid, refunded
        pay(refunded)
        with unit_of_work():
            orders.refund(
                refunded.id,
                {refunded.lines[0].id: 1},
                staff=None,
                idempotency_key="refund-report-test-0001",
            )
        with unit_of_work():
            services.end(session_id, at=utcnow())
        replay = _order(plain, store_id, tea_v, "13900000004")  # after the end, in the grace
        pay(replay)

        report = reports.session_report(db.session.get(LiveSession, session_id))
        assert (report.live.paid_orders, report.live.paid_gmv) == (2, 10000)
        assert (report.live.unpaid_orders, report.live.unpaid_amount) == (1, 2000)
        assert (report.replay.paid_orders, report.replay.paid_gmv) == (1, 5000)
        assert report.total.paid_gmv == 15000
        by_product = {row.label: row.figures.paid_gmv for row in report.products}
        assert by_product == {"Green Tea": 15000, "Cup": 0}
        pins = [(row.label, row.figures.paid_gmv, row.figures.unpaid_orders) for row in report.pins]
        assert pins == [("Green Tea", 10000, 0), ("Cup", 0, 1)]
        by_inviter = {row.label: row.figures.paid_gmv for row in report.inviters}
        assert by_inviter["Anna"] == 10000
        assert report.visits == 1 and report.unique_visitors == 1

        with app.test_request_context():  # a pin row: its product, then when (the end's time
            html = render_template_string(  # alone on the same day), so a phone can wrap it
                '{% from "live/_figures.html" import report_tables %}{{ report_tables(r) }}',
                r=report,
            )
        assert re.search(
            r'<th scope="row">Green Tea<br><small class="muted">[^<]*–\d{2}:\d{2}</small></th>',
            html,
        )
        assert report.conversion == 3 / 1  # paying buyers ÷ unique visitors until viewers count
        csv_text = reports.csv_export(report)
        assert "pin,Green Tea," in csv_text and "inviter,Anna," in csv_text
        assert unpaid.paid_at is None


def test_the_home_page_shows_sessions_live_now_or_starting_soon(app, client):
    with app.app_context():
        store = small_catalog()[0]
        make_session(store, "On air now", on_air=True)
        make_session(store, "Tomorrow night", scheduled_at=utcnow() + timedelta(hours=20))
        make_session(store, "Next month", scheduled_at=utcnow() + timedelta(days=30))
        db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "On air now" in page and "Tomorrow night" in page
    assert "Next month" not in page


def test_no_block_without_sessions(client, app):
    with app.app_context():
        small_catalog()
    assert "live-block" not in client.get("/").get_data(as_text=True)
