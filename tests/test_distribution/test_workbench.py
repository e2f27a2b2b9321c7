"""The guide workbench and promoters: sign-in with the rate limit, one-tap links, customers
with masked phones, orders with their explanation, the leaderboard, the funnel, /join, and
that a sharer sees only their own data."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from distribution import reports
from distribution.guides import transfer_customers
from distribution.models import Attribution, ShareLink, Sharer, Visit
from distribution.promoters import approve_promoter, issue_token
from distribution.sharing import link_for, open_link, settings
from shop.catalog.models import Store, Variant
from shop.checkout.services import place_order
from shop.customers.models import Customer
from shop.demo.factories import make_product, make_store
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.orders import services as orders
from shop.orders.models import Order
from shop.staff.models import LoginAttempt, Role, Staff
from tests.support.shop import details, small_catalog

PASSWORD = "guide-password-1"
# One cheap hash for every test login: scrypt at full strength costs ~0.5 s per call.
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def make_guide(store, name: str, email: str) -> Sharer:
    staff = Staff(email=email, name=name, role=Role.GUIDE, password_hash=FAST_HASH)
    staff.stores = [store]
    sharer = Sharer(kind="guide", name=name, staff=staff, store=store)
    db.session.add_all([staff, sharer])
    db.session.flush()
    return sharer


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post("/guide/login", data={"email": email, "password": password})


def buy(store, variant, visitor: str, phone: str, quantity: int = 1) -> Order:
    with unit_of_work():
        return place_order(
            [(variant.id, quantity)],
            details(store, phone=phone, attribution={"visitor_id": visitor}),
            uuid.uuid4().hex,
        )


@pytest.fixture
def world(app):
    """Two guides in one store, one in another; ids only (requests use their own sessions)."""
    with app.app_context():
        store, _category, product = small_catalog(stock_qty=100, price=10000)
        other_store = make_store("Other Store", "Suzhou")
        li = make_guide(store, "Li Na", "li@guides.test")
        wang = make_guide(store, "Wang Fang", "wang@guides.test")
        chen = make_guide(other_store, "Chen Jie", "chen@guides.test")
        db.session.commit()
        return SimpleNamespace(
            store=store.id,
            other_store=other_store.id,
            product=product.id,
            slug=product.slug,
            variant=product.variants[0].id,
            li=li.id,
            wang=wang.id,
            chen=chen.id,
        )


def sale(app, world, sharer_id: int, phone: str, paid: bool = True, quantity: int = 1) -> int:
    """A customer opens the sharer's link and buys; paid at the store when ``paid``."""
    with app.app_context():
        sharer = db.session.get(Sharer, sharer_id)
        store = db.session.get(Store, world.store)
        variant = db.session.get(Variant, world.variant)
        visitor = uuid.uuid4().hex
        open_link(link_for(sharer, "product", world.product, "wechat-group"), visitor)
        order = buy(store, variant, visitor, phone, quantity)
        if paid:
            with unit_of_work():
                orders.mark_paid_at_store(order.id, None)
        return order.id


# --- signing in ---------------------------------------------------------------------------


def test_workbench_needs_a_sign_in(client, world):
    response = client.get("/guide")
    assert response.status_code == 302
    assert response.headers["Location"] == "/guide/login?next=/guide"
    # The address as the demo data and README print it, with a trailing slash, works too.
    assert client.get("/guide/").status_code == 302


def test_guide_signs_in_and_out(client, world):
    response = client.post(
        "/guide/login?next=/guide%23orders",
        data={"email": " LI@guides.test ", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/guide#orders"
    assert "Expires=" in response.headers["Set-Cookie"]  # stays signed in on the phone
    page = client.get("/guide")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Hello, Li Na" in text and "Test Store" in text
    assert page.headers["Cache-Control"] == "private, no-store"

    assert client.post("/guide/logout").headers["Location"] == "/guide/login"
    assert client.get("/guide").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\t/evil.example"])
def test_sign_in_never_redirects_off_site(client, world, target):
    response = client.post(
        "/guide/login",
        query_string={"next": target},
        data={"email": "li@guides.test", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/guide"


def test_wrong_password_and_the_rate_limit(client, world, app):
    assert sign_in(client, "li@guides.test", "wrong").status_code == 401
    with app.app_context():
        assert db.session.scalar(select(func.count(LoginAttempt.id))) == 1
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert sign_in(client, "li@guides.test", "wrong").status_code == 401
    locked = sign_in(client, "li@guides.test")  # the right password no longer helps
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert client.get("/guide").status_code == 302


def test_failures_at_the_admin_door_count_here_too(client, world, app):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/admin/login", data={"email": "li@guides.test", "password": "guess"})
    assert sign_in(client, "li@guides.test").status_code == 429


def test_unknown_email_is_refused_and_counted(client, world, app):
    response = sign_in(client, "nobody@guides.test")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(LoginAttempt.email)) == "nobody@guides.test"


def test_other_staff_cannot_use_the_guide_sign_in(client, world, app):
    with app.app_context():
        db.session.add(
            Staff(
                email="owner@test.example", name="Owner", role=Role.OWNER, password_hash=FAST_HASH
            )
        )
        db.session.commit()
    response = sign_in(client, "owner@test.example")
    assert response.status_code == 401
    assert "for store guides" in response.get_data(as_text=True)


def test_a_guide_who_left_cannot_sign_in(client, world, app):
    with app.app_context():
        li, wang = db.session.get(Sharer, world.li), db.session.get(Sharer, world.wang)
        with unit_of_work():
            transfer_customers(li, [wang])
    response = sign_in(client, "li@guides.test")
    assert response.status_code == 401
    assert "deactivated" in response.get_data(as_text=True)


def test_a_guide_marked_left_with_an_active_login_cannot_sign_in(client, world, app):
    with app.app_context():
        db.session.get(Sharer, world.li).status = "left"
        db.session.commit()
    response = sign_in(client, "li@guides.test")
    assert response.status_code == 401
    assert "no longer share" in response.get_data(as_text=True)


def test_a_guide_who_leaves_is_out_at_the_next_request(client, world, app):
    assert sign_in(client, "li@guides.test").status_code == 302
    assert client.get("/guide").status_code == 200
    with app.app_context():
        with unit_of_work():
            transfer_customers(
                db.session.get(Sharer, world.li), [db.session.get(Sharer, world.wang)]
            )
    assert client.get("/guide").status_code == 302
    assert "Share this product" not in client.get(f"/p/{world.slug}").get_data(as_text=True)


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True


def test_sign_in_needs_the_form_token(client, world, csrf_on):
    response = sign_in(client, "li@guides.test")
    assert response.status_code == 400
    assert client.get("/guide").status_code == 302
    form = client.get("/guide/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post(
        "/guide/login", data={"email": "li@guides.test", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


# --- links --------------------------------------------------------------------------------


def make(client, target: str, channel: str = "wechat-group", next_: str = "/guide"):
    return client.post("/guide/links", data={"target": target, "channel": channel, "next": next_})


def links_of(app, sharer_id: int) -> list[tuple[str, int, str]]:
    with app.app_context():
        return sorted(
            db.session.execute(
                select(ShareLink.target_type, ShareLink.target_id, ShareLink.channel).where(
                    ShareLink.sharer_id == sharer_id
                )
            ).all()
        )


def test_one_tap_links_are_unique_per_target_and_channel(client, world, app):
    sign_in(client, "li@guides.test")
    first = make(client, f"product:{world.product}")
    assert first.status_code == 302
    code = first.headers["Location"].split("#link-")[1]
    assert first.headers["Location"] == f"/guide#link-{code}"
    again = make(client, f"product:{world.product}")
    assert again.headers["Location"] == f"/guide#link-{code}"
    make(client, f"product:{world.product}", "moments")
    make(client, "home")
    make(client, "home")
    assert links_of(app, world.li) == [
        ("home", 0, "wechat-group"),
        ("product", world.product, "moments"),
        ("product", world.product, "wechat-group"),
    ]
    page = client.get("/guide").get_data(as_text=True)
    assert f'id="link-{code}"' in page
    assert f'value="http://localhost/s/{code}"' in page  # PUBLIC_BASE_URL + /s/<code>
    assert f"/s/{code}/qr.png" in page and f"/s/{code}/poster.png" in page
    assert f"/s/{code}/qr.svg" in page


@pytest.mark.parametrize(
    "target, channel",
    [
        ("product:999999", "moments"),
        ("product:abc", "moments"),
        ("category:1", "moments"),
        ("", "moments"),
        ("home", "carrier-pigeon"),
    ],
)
def test_bad_link_requests_make_nothing(client, world, app, target, channel):
    sign_in(client, "li@guides.test")
    response = make(client, target, channel)
    assert response.status_code == 302
    assert links_of(app, world.li) == []
    assert client.get("/guide").get_data(as_text=True).count('class="flash error"') == 1


def test_inactive_products_cannot_be_shared(client, world, app):
    with app.app_context():
        hidden = make_product("Old Tea", price=500)
        hidden.active = False
        db.session.commit()
        hidden_id = hidden.id
    sign_in(client, "li@guides.test")
    make(client, f"product:{hidden_id}")
    assert links_of(app, world.li) == []


def test_link_form_stays_inside_the_shop(client, world):
    sign_in(client, "li@guides.test")
    response = make(client, "home", next_="https://evil.example/")
    assert response.headers["Location"].startswith("/guide#link-")


def test_making_links_needs_a_sign_in(client, world, app):
    response = make(client, "home")
    assert response.status_code == 302 and response.headers["Location"].startswith("/guide/login")
    with app.app_context():
        assert db.session.scalar(select(func.count(ShareLink.id))) == 0


def test_product_page_shows_the_share_box_to_guides_only(client, world, app):
    page = client.get(f"/p/{world.slug}").get_data(as_text=True)
    assert "Share this product" not in page

    sign_in(client, "li@guides.test")
    page = client.get(f"/p/{world.slug}").get_data(as_text=True)
    assert "Share this product" in page and "Make my link" in page
    response = make(client, f"product:{world.product}", "moments", next_=f"/p/{world.slug}")
    code = response.headers["Location"].split("#link-")[1]
    assert response.headers["Location"] == f"/p/{world.slug}#link-{code}"
    page = client.get(f"/p/{world.slug}").get_data(as_text=True)
    assert f"http://localhost/s/{code}" in page
    assert "Make a link" in page


def test_the_share_button_shares_the_guide_s_own_tracked_link(client, world, app):
    page = client.get(f"/p/{world.slug}").get_data(as_text=True)
    assert f'data-url="http://localhost/p/{world.slug}"' in page  # a customer: the plain page

    sign_in(client, "li@guides.test")
    page = client.get(f"/p/{world.slug}").get_data(as_text=True)
    # no link yet: the button submits the share box's form, which makes one
    assert 'class="share" type="submit" form="share-make-link"' in page
    assert 'id="share-make-link"' in page
    response = make(client, f"product:{world.product}", "wechat-group", next_=f"/p/{world.slug}")
    code = response.headers["Location"].split("#link-")[1]
    page = client.get(f"/p/{world.slug}").get_data(as_text=True)
    assert f'data-url="http://localhost/s/{code}"' in page


# --- customers, orders, commission ------------------------------------------------------


def test_customers_are_listed_with_masked_phones(client, world, app):
    sale(app, world, world.li, "13812345678", paid=False)
    with app.app_context():  # a visitor bound to Li Na who has not ordered
        open_link(link_for(db.session.get(Sharer, world.li), "home", 0, "moments"), "someone")
    sign_in(client, "li@guides.test")
    page = client.get("/guide").get_data(as_text=True)
    assert "138****5678" in page
    assert "13812345678" not in page
    assert "Protected" in page
    assert "1 more visitor is bound to you" in page


def test_orders_show_the_explanation_and_my_commission(client, world, app):
    first = sale(app, world, world.li, "13812345678")
    unpaid = sale(app, world, world.li, "13912345678", paid=False)
    sign_in(client, "li@guides.test")
    page = client.get("/guide").get_data(as_text=True)
    with app.app_context():
        paid_number = db.session.get(Order, first).number
        unpaid_number = db.session.get(Order, unpaid).number
    assert paid_number in page and unpaid_number in page
    assert "Credited to Li Na: their link was opened" in page
    assert "¥10.00" in page  # 10% of ¥100.00, the built-in default rate
    assert "¥10.00 once the order is paid" in page  # the unpaid order, by today's rules
    assert "¥10.00" in page.split('id="commission"')[0].split('class="wb-stats"')[1]


def test_a_recruiter_sees_their_team_s_orders(client, world, app):
    with app.app_context():
        li = db.session.get(Sharer, world.li)
        promoter = Sharer(kind="promoter", name="Zhao Lei", parent=li, store_id=li.store_id)
        db.session.add(promoter)
        db.session.commit()
        promoter_id = promoter.id
    order_id = sale(app, world, promoter_id, "13812345678")
    sign_in(client, "li@guides.test")
    page = client.get("/guide").get_data(as_text=True)
    with app.app_context():
        number = db.session.get(Order, order_id).number
    assert number in page
    assert "Your team" in page
    assert "Li Na recruited them and earns the second level." in page
    assert "¥5.00" in page  # level 2: 5% of ¥100.00


def test_a_guide_sees_only_their_own_orders_and_customers(client, world, app):
    theirs = sale(app, world, world.wang, "13812345678")
    mine = sale(app, world, world.li, "13987654321")
    with app.app_context():
        their_number = db.session.get(Order, theirs).number
        my_number = db.session.get(Order, mine).number
    sign_in(client, "li@guides.test")
    for url in ("/guide", f"/guide?sharer_id={world.wang}", f"/guide?sharer={world.wang}"):
        page = client.get(url).get_data(as_text=True)
        assert my_number in page and "139****4321" in page
        assert their_number not in page and "138****5678" not in page
        assert "Credited to Wang Fang" not in page


def test_links_are_made_only_for_the_signed_in_guide(client, world, app):
    sign_in(client, "li@guides.test")
    client.post(
        "/guide/links",
        data={"target": "home", "channel": "moments", "sharer_id": str(world.wang)},
    )
    assert links_of(app, world.wang) == []
    assert links_of(app, world.li) == [("home", 0, "moments")]


# --- leaderboard and funnel -------------------------------------------------------------


def test_leaderboard_counts_this_month_s_paid_orders_per_guide_of_my_store(client, world, app):
    sale(app, world, world.li, "13800000001", quantity=2)  # ¥200
    sale(app, world, world.li, "13800000002")  # ¥100
    sale(app, world, world.wang, "13800000003")  # ¥100
    sale(app, world, world.wang, "13800000004", paid=False)  # not paid: not counted
    sale(app, world, world.chen, "13800000005")  # another store
    old = sale(app, world, world.wang, "13800000006", quantity=5)
    refunded = sale(app, world, world.li, "13800000007")
    with app.app_context():
        # paid before this month began: not counted this month
        db.session.get(Order, old).paid_at = utcnow().replace(day=1) - timedelta(days=2)
        db.session.commit()
        order = db.session.get(Order, refunded)
        with unit_of_work():
            orders.refund(
                order.id,
                {order.lines[0].id: 1},
                staff=None,
                idempotency_key=uuid.uuid4().hex,
            )
    sign_in(client, "wang@guides.test")
    page = client.get("/guide").get_data(as_text=True)
    board = page.split('id="leaderboard"')[1].split("</table>")[0]
    rows = re.findall(
        r"<tr[^>]*><td>(\d+)</td><td>([^<]+)</td><td class=\"num\">(\d+)</td>"
        r"<td class=\"num\">([^<]+)</td></tr>",
        board,
    )
    # Li: ¥200 and ¥100; the order refunded in full is not counted
    assert rows == [("1", "Li Na", "2", "¥300.00"), ("2", "Wang Fang", "1", "¥100.00")]
    assert '<tr class="me"><td>2</td><td>Wang Fang</td>' in board
    assert "Chen Jie" not in board


def test_promoters_have_no_leaderboard(client, world, app):
    with app.app_context():
        settings().promoter_approval = False
        db.session.commit()
    client.post("/join", data={"phone": "13800000009", "name": "Zhao Lei"})
    page = client.get("/guide").get_data(as_text=True)
    assert "Hello, Zhao Lei" in page
    assert 'id="leaderboard"' not in page
    assert 'id="funnel"' in page and 'id="orders"' in page and 'id="customers"' in page


def test_funnel_counts_visits_orders_and_paid_orders_of_this_month(client, world, app):
    sale(app, world, world.li, "13800000001")
    sale(app, world, world.li, "13800000002", paid=False)
    with app.app_context():
        li = db.session.get(Sharer, world.li)
        link = link_for(li, "home", 0, "moments")
        open_link(link, "window-shopper")
        open_link(link, "window-shopper")
        open_link(link, "long-ago", now=utcnow() - timedelta(days=40))
    sign_in(client, "li@guides.test")
    page = client.get("/guide").get_data(as_text=True)
    funnel = page.split('id="funnel"')[1].split("</section>")[0]
    counts = re.findall(r"<strong>(\d+)</strong></li>", funnel)
    assert counts == ["4", "3", "2", "1"]  # visits, visitors, orders, paid orders
    assert "¥100.00" in funnel
    assert "33% of visitors paid for an order" in funnel


def test_leaderboard_funnel_and_sales_count_the_same_orders(client, world, app):
    """Paid, net of refunds: an order refunded in full, an unpaid, a cancelled and last
    month's order count nowhere; a partly refunded one counts for what was kept."""
    sale(app, world, world.li, "13800000001", quantity=2)  # ¥200
    partly = sale(app, world, world.li, "13800000002", quantity=2)  # ¥200, ¥100 back
    fully = sale(app, world, world.li, "13800000003")  # ¥100, all back
    sale(app, world, world.li, "13800000004", paid=False)  # unpaid
    cancelled = sale(app, world, world.li, "13800000005", paid=False)
    last_month = sale(app, world, world.li, "13800000006", quantity=3)
    with app.app_context():
        for order_id, units in ((partly, 1), (fully, 1)):
            order = db.session.get(Order, order_id)
            with unit_of_work():
                orders.refund(
                    order.id,
                    {order.lines[0].id: units},
                    staff=None,
                    idempotency_key=uuid.uuid4().hex,
                )
        with unit_of_work():
            orders.cancel(cancelled, "changed mind")
        before = reports.month_start() - timedelta(days=1)
        db.session.get(Order, last_month).paid_at = before
        db.session.get(Order, last_month).created_at = before
        db.session.commit()
        li = db.session.get(Sharer, world.li)
        board = {row.sharer.id: row for row in reports.leaderboard(world.store)}
        funnel = reports.funnel(li)
    assert (board[world.li].orders, board[world.li].gmv) == (2, 30000)
    assert (funnel.paid_orders, funnel.gmv) == (2, 30000)
    assert funnel.orders == 5  # placed this month, whatever became of them

    sign_in(client, "li@guides.test")
    page = client.get("/guide").get_data(as_text=True)
    note = "Counted: paid orders, less those refunded in full, on the day of payment."
    assert page.count(note) == 2  # under the leaderboard and under the funnel
    assert page.count("The leaderboard and your funnel count the same orders.") == 2


def test_a_cancelled_order_shows_no_commission_to_come(client, world, app):
    cancelled = sale(app, world, world.li, "13800000001", paid=False)
    sale(app, world, world.li, "13800000002", paid=False)
    with app.app_context():
        with unit_of_work():
            orders.cancel(cancelled, "changed mind")
        db.session.commit()
        number = db.session.get(Order, cancelled).number
    sign_in(client, "li@guides.test")
    page = client.get("/guide").get_data(as_text=True)
    rows = page.split('id="orders"')[1].split("</section>")[0].split("<li>")[1:]
    by_number = {row.split("<strong>")[1].split("</strong>")[0]: row for row in rows}
    assert "none: the order was cancelled" in by_number[number]
    assert "once the order is paid" not in by_number[number]
    assert "when the order is paid" not in by_number[number]
    others = [row for key, row in by_number.items() if key != number]
    assert len(others) == 1 and "once the order is paid" in others[0]


def test_this_month_begins_at_midnight_in_the_shop_s_time_zone(app):
    with app.app_context():  # Asia/Shanghai: 1 December 01:00 is 30 November 17:00 UTC
        now = datetime(2026, 11, 30, 17, 0)
        assert reports.month_start(now) == datetime(2026, 11, 30, 16, 0)
        assert reports.month_start(datetime(2026, 11, 30, 15, 59)) == datetime(2026, 10, 31, 16)


# --- promoters ----------------------------------------------------------------------------


def promoter_named(app, name: str) -> Sharer | None:
    with app.app_context():
        sharer = db.session.scalar(select(Sharer).where(Sharer.name == name))
        if sharer is not None:
            db.session.expunge(sharer)
        return sharer


def test_apply_without_approval_is_active_at_once(client, world, app):
    response = client.post("/join", data={"phone": "138 1234 5678", "name": "  Zhao   Lei "})
    assert response.status_code == 302 and response.headers["Location"] == "/guide"
    promoter = promoter_named(app, "Zhao Lei")
    assert promoter.kind == "promoter" and promoter.status == "active"
    assert promoter.phone == "13812345678" and promoter.parent_id is None
    assert len(promoter.token) >= 32
    page = client.get("/guide").get_data(as_text=True)
    assert "Hello, Zhao Lei" in page and f"http://localhost/guide/p/{promoter.token}" in page
    assert make(client, "home").status_code == 302
    assert links_of(app, promoter.id) == [("home", 0, "wechat-group")]

    other_browser = app.test_client()
    assert other_browser.get("/guide").status_code == 302
    response = other_browser.get(f"/guide/p/{promoter.token}")
    assert response.status_code == 302 and response.headers["Location"] == "/guide"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Hello, Zhao Lei" in other_browser.get("/guide").get_data(as_text=True)


def test_apply_with_approval_waits_for_staff(client, world, app):
    with app.app_context():
        settings().promoter_approval = True
        db.session.commit()
    client.post("/join", data={"phone": "13812345678", "name": "Zhao Lei"})
    promoter = promoter_named(app, "Zhao Lei")
    assert promoter.status == "pending"
    page = client.get("/guide").get_data(as_text=True)
    assert "waiting for approval" in page and 'id="links"' not in page
    make(client, "home")
    assert links_of(app, promoter.id) == []
    assert "Share this product" not in client.get(f"/p/{world.slug}").get_data(as_text=True)

    with app.app_context():
        with unit_of_work():
            approve_promoter(db.session.get(Sharer, promoter.id), None)
    page = client.get("/guide").get_data(as_text=True)
    assert 'id="links"' in page
    assert "Share this product" in client.get(f"/p/{world.slug}").get_data(as_text=True)


def test_an_invite_code_sets_the_parent(client, world, app):
    with app.app_context():
        code = link_for(db.session.get(Sharer, world.li), "home", 0, "moments").code
    assert code in client.get(f"/join?invite={code}").get_data(as_text=True)
    client.post("/join", data={"phone": "13812345678", "name": "Zhao Lei", "invite": code})
    promoter = promoter_named(app, "Zhao Lei")
    assert promoter.parent_id == world.li and promoter.store_id == world.store
    assert "invited by Li Na" in client.get("/guide").get_data(as_text=True)


@pytest.mark.parametrize("code", ["NoSuchCd", "../../x", "a" * 40])
def test_a_forged_invite_code_sets_no_parent(client, world, app, code):
    response = client.post(
        "/join", data={"phone": "13812345678", "name": "Zhao Lei", "invite": code}
    )
    assert response.status_code == 422
    assert "This invite code matches no one" in response.get_data(as_text=True)
    assert promoter_named(app, "Zhao Lei") is None
    with app.app_context():
        assert db.session.scalar(select(func.count(Customer.id))) == 0


def test_the_code_of_someone_who_left_invites_no_one(client, world, app):
    with app.app_context():
        li = db.session.get(Sharer, world.li)
        code = link_for(li, "home", 0, "moments").code
        with unit_of_work():
            transfer_customers(li, [db.session.get(Sharer, world.wang)])
    response = client.post(
        "/join", data={"phone": "13812345678", "name": "Zhao Lei", "invite": code}
    )
    assert response.status_code == 422
    assert "matches no one" in response.get_data(as_text=True)
    assert promoter_named(app, "Zhao Lei") is None


def test_applying_again_never_reveals_the_personal_link(client, world, app):
    client.post("/join", data={"phone": "13812345678", "name": "Zhao Lei"})
    token = promoter_named(app, "Zhao Lei").token
    stranger = app.test_client()
    response = stranger.post("/join", data={"phone": "13812345678", "name": "Someone Else"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "already in the programme" in text and token not in text
    assert stranger.get("/guide").status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(select(func.count(Sharer.id)).where(Sharer.kind == "promoter")) == 1
        )


@pytest.mark.parametrize(
    "form, message",
    [
        ({"phone": "12345", "name": "Zhao Lei"}, "valid mobile number"),
        ({"phone": "13812345678", "name": "   "}, "Enter your name"),
    ],
)
def test_bad_applications_change_nothing(client, world, app, form, message):
    response = client.post("/join", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(select(func.count(Sharer.id)).where(Sharer.kind == "promoter")) == 0
        )


def test_an_existing_customer_keeps_their_details(client, world, app):
    with app.app_context():
        db.session.add(Customer(phone="13812345678", name="Zhao L.", city="Hangzhou"))
        db.session.commit()
    client.post("/join", data={"phone": "13812345678", "name": "Zhao Lei"})
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.phone == "13812345678"))
        assert customer.name == "Zhao L." and customer.city == "Hangzhou"
        assert db.session.scalar(select(Sharer.customer_id).where(Sharer.name == "Zhao Lei")) == (
            customer.id
        )


def test_personal_links_are_unguessable_and_revocable(client, world, app):
    client.post("/join", data={"phone": "13812345678", "name": "Zhao Lei"})
    promoter = promoter_named(app, "Zhao Lei")
    assert app.test_client().get("/guide/p/not-the-token").status_code == 404
    assert app.test_client().get(f"/guide/p/{promoter.token[:-1]}").status_code == 404
    with app.app_context():
        sharer = db.session.get(Sharer, promoter.id)
        issue_token(sharer)
        db.session.commit()
        new_token = sharer.token
    assert client.get("/guide").status_code == 302  # the old link's session has ended
    assert app.test_client().get(f"/guide/p/{promoter.token}").status_code == 404
    assert app.test_client().get(f"/guide/p/{new_token}").status_code == 302


def test_a_promoter_who_left_is_out(client, world, app):
    client.post("/join", data={"phone": "13812345678", "name": "Zhao Lei"})
    promoter = promoter_named(app, "Zhao Lei")
    with app.app_context():
        db.session.get(Sharer, promoter.id).status = "left"
        db.session.commit()
    assert client.get("/guide").status_code == 302
    assert app.test_client().get(f"/guide/p/{promoter.token}").status_code == 404


def test_promoters_see_only_their_own_visits(client, world, app):
    client.post("/join", data={"phone": "13812345678", "name": "Zhao Lei"})
    with app.app_context():
        open_link(link_for(db.session.get(Sharer, world.li), "home", 0, "moments"), "v1")
        assert db.session.scalar(select(func.count(Visit.id))) == 1
        assert db.session.scalar(select(func.count(Attribution.order_id))) == 0
    funnel = client.get("/guide").get_data(as_text=True).split('id="funnel"')[1]
    assert re.findall(r"<strong>(\d+)</strong></li>", funnel) == ["0", "0", "0", "0"]


def test_guide_shares_a_coupon_link_that_leads_to_the_claim_page(app):
    from distribution.links import make_link
    from shop.members.models import CouponTemplate

    with app.app_context():
        store, _category, _product = small_catalog()
        guide = make_guide(store, "Li Na", "li.coupon@guides.test")
        template = CouponTemplate(name="Tea Day", kind="fixed", value=500)
        hidden = CouponTemplate(name="Staff only", kind="fixed", value=500, claimable=False)
        db.session.add_all([template, hidden])
        db.session.commit()
        link = make_link(guide, f"coupon:{template.id}", "wechat-group")
        assert (link.target_type, link.target_id) == ("coupon", template.id)
        with pytest.raises(InvalidInput):
            make_link(guide, f"coupon:{hidden.id}", "wechat-group")
        code, template_id = link.code, template.id
    response = app.test_client().get(f"/s/{code}")
    assert response.headers["Location"] == f"/coupons/{template_id}"
