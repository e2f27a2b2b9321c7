"""The live room and the host console through HTTP (in-process broker, no Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from live.broker import broker
from live.factories import shelve
from live.models import LiveSession, ShelfItem
from live.presence import presence
from live.room_models import BannedWord, LiveComment, LiveViewer
from shop.demo.factories import make_product
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order
from tests.support.live_room import make_room, sign_in_host
from tests.support.shop import checkout_form


@pytest.fixture
def app_config(app_config):
    return {**app_config, "LIVE_SSE_MAX_AGE_SECONDS": 0.3, "LIVE_SSE_HEARTBEAT_SECONDS": 0.1}


@pytest.fixture
def room(app):
    """The session, made in an app context of its own: requests get theirs (a test that reads
    the database asks for ``ctx`` too), so nothing one request leaves in ``g`` is seen by the
    next."""
    with app.app_context():
        return make_room(status="live")


JSON = {"Accept": "application/json"}


def _events(app, session_id, after=0):
    return [(e.kind, e.data) for e in broker(app).since(session_id, after)]


def test_the_room_shows_the_session_its_shelf_and_the_hls_player(client, room):
    page = client.get(f"/live/{room.session_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Spring tea live" in html
    assert "Green Tea" in html and "Oolong" in html
    assert "¥69.00" in html  # the live price
    assert 'data-hls="https://video.example/live/stream.m3u8"' in html
    policy = page.headers["Content-Security-Policy"]
    assert "media-src 'self' blob: https://video.example" in policy
    assert "frame-src 'none'" in policy
    assert client.get("/live/vendor/hls.min.js").status_code == 200
    assert client.get("/live/999").status_code == 404


def test_a_reload_is_neither_a_new_viewer_nor_a_new_visit(client, room, app, ctx):
    client.get(f"/live/{room.session_id}")
    client.get(f"/live/{room.session_id}")
    other = app.test_client()
    other.get(f"/live/{room.session_id}")
    viewers = db.session.scalars(select(LiveViewer)).all()
    assert len(viewers) == 2
    assert sorted(v.visits for v in viewers) == [1, 1]


def test_a_viewer_of_an_earlier_session_is_returning(client, room, app, ctx):
    from live.models import LiveSession
    from live.room import viewer_stats

    client.get(f"/live/{room.session_id}")
    later = LiveSession(store_id=room.store_id, title="Later", status="live")
    db.session.add(later)
    db.session.commit()
    client.get(f"/live/{later.id}")
    app.test_client().get(f"/live/{later.id}")
    stats = viewer_stats(later.id)
    assert (stats["unique_viewers"], stats["returning_viewers"], stats["new_viewers"]) == (2, 1, 1)


def test_a_comment_is_announced_and_bad_ones_change_nothing(client, room, app, ctx):
    client.get(f"/live/{room.session_id}")  # the browser gets its visitor id
    db.session.add(BannedWord(word="Spam"))
    db.session.commit()
    url = f"/live/{room.session_id}/comments"

    ok = client.post(url, data={"body": "  Is it   fresh? <b>"}, headers=JSON)
    assert ok.get_json()["ok"] is True
    too_fast = client.post(url, data={"body": "again"}, headers=JSON)
    assert too_fast.status_code == 429
    assert "2 seconds" in too_fast.get_json()["error"]

    presence_pace = app.extensions["siyu_live_pace"]
    presence_pace._last.clear()
    for body, words in (
        ("x" * 201, "200 characters"),
        ("buy SPAM now", "not allowed"),
        ("", "write"),
    ):
        refused = client.post(url, data={"body": body}, headers=JSON)
        assert refused.status_code == 400
        assert words in refused.get_json()["error"]
    assert db.session.scalar(select(func.count(LiveComment.id))) == 1
    comments = [d for kind, d in _events(app, room.session_id) if kind == "comment"]
    assert [c["body"] for c in comments] == ["Is it fresh? <b>"]
    assert 0 <= comments[0]["number"] < 10000  # the page words it: "Viewer 1234"


def test_a_comment_form_without_its_script_gets_the_room_with_the_reason(client, room, ctx):
    client.get(f"/live/{room.session_id}")
    refused = client.post(f"/live/{room.session_id}/comments", data={"body": "x" * 201})
    assert refused.status_code == 302
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "A comment is at most 200 characters." in page
    assert db.session.scalar(select(func.count(LiveComment.id))) == 0


def test_a_browser_without_a_visitor_id_cannot_comment(client, room):
    refused = client.post(f"/live/{room.session_id}/comments", data={"body": "hi"}, headers=JSON)
    assert refused.status_code == 400
    assert "reload" in refused.get_json()["error"]


def test_the_host_pins_and_mutes_from_the_console(client, room, app):
    viewer = app.test_client()
    viewer.get(f"/live/{room.session_id}")
    viewer.post(f"/live/{room.session_id}/comments", data={"body": "hello"}, headers=JSON)
    key = [d for k, d in _events(app, room.session_id) if k == "comment"][0]["author_key"]

    assert client.get(f"/live/{room.session_id}/host").status_code == 302  # sign in first
    sign_in_host(client)
    console = client.get(f"/live/{room.session_id}/host")
    assert console.status_code == 200
    assert "Go live" in console.get_data(as_text=True)

    pinned = client.post(f"/live/{room.session_id}/host/pin", data={"item": room.items[0]})
    assert pinned.get_json()["ok"] is True
    pins = [d for k, d in _events(app, room.session_id) if k == "pin"]
    assert pins[-1]["pinned"]["name"] == "Green Tea"
    assert pins[-1]["pinned"]["units_left"] == 40
    assert pins[-1]["pinned"]["live_price"] == "¥69.00"

    stranger = client.post(f"/live/{room.session_id}/host/pin", data={"item": "999"})
    assert stranger.status_code == 400

    client.post(f"/live/{room.session_id}/host/unpin")
    assert [d for k, d in _events(app, room.session_id) if k == "pin"][-1]["pinned"] is None

    muted = client.post(f"/live/{room.session_id}/host/mute", data={"author": key})
    assert muted.get_json()["ok"] is True
    app.extensions["siyu_live_pace"]._last.clear()
    refused = viewer.post(
        f"/live/{room.session_id}/comments", data={"body": "hello again"}, headers=JSON
    )
    assert "muted" in refused.get_json()["error"]


def test_someone_elses_console_is_refused(client, room, app):
    from distribution.factories import make_guide
    from shop.catalog.models import Store
    from shop.demo.factories import make_staff

    with app.app_context():
        make_staff("support@siyu.test", "pw-123456789", "support")
        make_guide(db.session.get(Store, room.store_id), "Zhao Lei", email="zhao@guides.test")
        db.session.commit()
    support = app.test_client()
    support.post("/admin/login", data={"email": "support@siyu.test", "password": "pw-123456789"})
    assert support.get(f"/live/{room.session_id}/host").status_code == 403
    other_guide = app.test_client()
    signed_in = other_guide.post(
        "/guide/login", data={"email": "zhao@guides.test", "password": "guide-password-1"}
    )
    assert signed_in.status_code == 302
    assert other_guide.get(f"/live/{room.session_id}/host").status_code == 403
    refused = other_guide.post(f"/live/{room.session_id}/host/pin", data={"item": room.items[0]})
    assert refused.status_code == 403
    assert not [k for k, _ in _events(app, room.session_id) if k == "pin"]


def test_host_console_status_actions(client, room, app):
    sign_in_host(client)
    assert client.post(f"/live/{room.session_id}/host/pause").get_json()["status"] == "paused"
    assert client.post(f"/live/{room.session_id}/host/start").get_json()["status"] == "live"
    assert client.post(f"/live/{room.session_id}/host/end").get_json()["status"] == "ended"
    statuses = [d["status"] for k, d in _events(app, room.session_id) if k == "status"]
    assert statuses == ["paused", "live", "ended"]
    again = client.post(f"/live/{room.session_id}/host/start")
    assert again.status_code == 400


def test_likes_are_counted_once_a_second(client, room, app, ctx):
    for _ in range(3):
        assert client.post(f"/live/{room.session_id}/likes", data={"taps": "5"}).status_code == 200
    assert client.post(f"/live/{room.session_id}/likes", data={"taps": "500"}).status_code == 400
    presence(app).tick(app)
    likes = [d for k, d in _events(app, room.session_id) if k == "likes"]
    assert likes == [{"likes": 15}]


def test_the_event_stream_replays_after_last_event_id(client, room, app):
    b = broker(app)
    for n in range(3):
        b.publish(room.session_id, "pin", {"n": n})
    response = client.get(
        f"/live/{room.session_id}/events", headers={"Last-Event-ID": "1"}, buffered=True
    )
    assert response.mimetype == "text/event-stream"
    text = response.get_data(as_text=True)
    assert "id: 1\n" not in text
    assert 'id: 2\nevent: pin\ndata: {"n":1}' in text and "id: 3\n" in text
    assert ": heartbeat" in text  # and it ended at its maximum age


def test_the_session_report_reads_the_room_s_viewers(client, room, app, ctx):
    from live.models import LiveSession
    from live.reports import session_report

    client.get(f"/live/{room.session_id}")
    client.get(f"/live/{room.session_id}")  # a reload
    other = app.test_client()
    other.get(f"/live/{room.session_id}")
    watching = presence(app)
    for visitor in ("a", "b", "c"):
        watching.joined(room.session_id, visitor)
    watching.tick(app)
    watching.left(room.session_id, "c")
    watching.tick(app)
    viewers = session_report(db.session.get(LiveSession, room.session_id)).viewers
    assert (viewers.unique, viewers.new, viewers.returning, viewers.peak) == (2, 2, 0, 3)
    published = [d["viewers"] for k, d in _events(app, room.session_id) if k == "viewers"]
    assert published == [3, 2]


def _oolong_on_sale(app, room, price: int = 3500) -> None:
    """Oolong (¥59, ¥39 live) on a limited-time price for the next hour."""
    with app.app_context():
        oolong = db.session.get(ShelfItem, room.items[1]).product.variants[0]
        now = utcnow()
        oolong.sale_price, oolong.sale_starts_at = price, now - timedelta(hours=1)
        oolong.sale_ends_at = now + timedelta(hours=1)
        db.session.commit()


def _shelf_rows(html: str) -> list[str]:
    return html.split('id="live-shelf"', 1)[1].split("</ul>", 1)[0].split("<li ")[1:]


def test_the_room_shows_what_its_buy_buttons_charge_the_lowest_price(client, room, app):
    """Green Tea (¥99) at ¥69 live; Oolong on a limited-time ¥35, below its ¥39 live price:
    the room shows ¥35 for it (its regular ¥59 struck), not the live price, as checkout charges
    it."""
    _oolong_on_sale(app, room)
    html = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    rows = _shelf_rows(html)
    assert '<span class="price sale">¥69.00</span> <s>¥99.00</s>' in rows[0]
    assert '<span class="price sale">¥35.00</span> <s>¥59.00</s>' in rows[1]
    assert "39.00" not in rows[1]

    to_checkout = client.get(f"/live/{room.session_id}/buy/{room.items[1]}")
    assert to_checkout.status_code == 302 and "/checkout?" in to_checkout.headers["Location"]
    with app.app_context():
        variant_id = db.session.get(ShelfItem, room.items[1]).product.variants[0].id
    placed = client.post("/checkout", data=checkout_form(variant_id, room.store_id))
    assert placed.status_code == 303
    with app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert order.lines[0].unit_price == 3500 and order.live_session_id == room.session_id

    sign_in_host(client)
    console = client.get(f"/live/{room.session_id}/host").get_data(as_text=True)
    shelf = console.split('id="host-shelf"', 1)[1].split("</ul>", 1)[0].split("<li ")[1:]
    assert "¥69.00 · 0 claimed</small>" in shelf[0]  # the live price wins: nothing more to say
    assert "¥39.00 · 0 claimed · viewers now pay ¥35.00" in shelf[1]  # bought at ¥35: no unit
    answer = client.post(f"/live/{room.session_id}/host/pin", data={"item": room.items[1]})
    assert answer.get_json()["ok"] is True
    pinned = [d for k, d in _events(app, room.session_id) if k == "pin"][-1]["pinned"]
    assert (pinned["pays"], pinned["was"], pinned["at_live_price"]) == ("¥35.00", "¥59.00", False)
    assert pinned["live_price"] == "¥39.00"  # the host console still shows the shelf's price
    html = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    pin = html.split('id="live-pinned"', 1)[1].split("</section>", 1)[0]
    assert "¥35.00" in pin and "Buy now" in pin and "Buy at the live price" not in pin


def test_the_room_says_the_per_customer_limit_while_the_live_price_holds(client, room, app):
    """Green Tea's live price allows 2 per customer: its row and its pin say so; once its own
    limited-time price is lower, it sells at that without a limit, and nothing is said."""
    rows = _shelf_rows(client.get(f"/live/{room.session_id}").get_data(as_text=True))
    assert '<span class="left" data-limit="2">40 left · Limit 2 per customer</span>' in rows[0]
    assert '<span class="left" data-limit="">' in rows[1]  # Oolong: no limit
    with app.app_context():
        tea = db.session.get(ShelfItem, room.items[0]).product.variants[0]
        tea.sale_price, tea.sale_starts_at = 5000, utcnow() - timedelta(hours=1)
        tea.sale_ends_at = utcnow() + timedelta(hours=1)
        db.session.commit()
    sign_in_host(client)
    client.post(f"/live/{room.session_id}/host/pin", data={"item": room.items[0]})
    pinned = [d for k, d in _events(app, room.session_id) if k == "pin"][-1]["pinned"]
    assert (pinned["pays"], pinned["limit"]) == ("¥50.00", None)
    rows = _shelf_rows(client.get(f"/live/{room.session_id}").get_data(as_text=True))
    assert "Limit" not in rows[0]


def test_where_the_live_price_loses_the_sessions_cap_does_not_hold_back_the_product(
    client, room, app
):
    """Oolong's cap is used up, but its own limited-time price is below the live price: it is
    sold at that, so the room shows its stock and its buy button leads to checkout."""
    with app.app_context():
        item = db.session.get(ShelfItem, room.items[1])
        item.stock_cap, item.sold = 5, 5
        db.session.commit()
    rows = _shelf_rows(client.get(f"/live/{room.session_id}").get_data(as_text=True))
    assert "Sold out" in rows[1]
    assert (
        client.get(f"/live/{room.session_id}/buy/{room.items[1]}")
        .headers["Location"]
        .endswith(f"/live/{room.session_id}")
    )  # refused: the live price would apply

    _oolong_on_sale(app, room)
    rows = _shelf_rows(client.get(f"/live/{room.session_id}").get_data(as_text=True))
    assert "50 left" in rows[1] and "Sold out" not in rows[1]
    to_checkout = client.get(f"/live/{room.session_id}/buy/{room.items[1]}")
    assert "/checkout?" in to_checkout.headers["Location"]


def test_a_shelf_item_for_one_variant_names_it(client, room, app):
    with app.app_context():
        session = db.session.get(ShelfItem, room.items[0]).session
        cups = make_product("Celadon cup", variants=[("Single", 6800, 10), ("Pair", 12800, 10)])
        shelve(session, cups, 9900, variant=cups.variants[1], position=3)
        db.session.commit()
    row = _shelf_rows(client.get(f"/live/{room.session_id}").get_data(as_text=True))[2]
    assert "Celadon cup · Pair" in row and "Single" not in row
    assert '<span class="price sale">¥99.00</span> <s>¥128.00</s>' in row


def test_once_the_live_price_is_over_the_room_shows_the_products_own_price(client, room, app):
    """Before the session goes on air the room shows the live price to come; once the grace
    after its last heartbeat has run out, the product's own price, unstruck and uncapped."""
    html = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    assert '<span class="price sale">¥69.00</span> <s>¥99.00</s>' in _shelf_rows(html)[0]
    with app.app_context():
        session = db.session.get(ShelfItem, room.items[0]).session
        session.started_at = utcnow() - timedelta(hours=1)
        session.last_heartbeat_at = utcnow() - timedelta(minutes=16)
        db.session.get(ShelfItem, room.items[0]).sold = 40  # the cap of 40 used up
        db.session.commit()
    row = _shelf_rows(client.get(f"/live/{room.session_id}").get_data(as_text=True))[0]
    assert '<span class="price">¥99.00</span></span>' in row and "69.00" not in row
    assert "100 left" in row
    to_checkout = client.get(f"/live/{room.session_id}/buy/{room.items[0]}")
    assert "/checkout?" in to_checkout.headers["Location"]  # not refused: at its own price


def test_a_whole_product_on_the_shelf_is_bought_in_its_first_variant_in_stock(client, room, app):
    with app.app_context():
        session = db.session.get(ShelfItem, room.items[0]).session
        session.started_at = session.last_heartbeat_at = utcnow()  # on air
        cups = make_product("Celadon cup", variants=[("Single", 6800, 0), ("Pair", 12800, 10)])
        shelve(session, cups, 5400, position=3)
        db.session.commit()
        pair, item_id = cups.variants[1].id, session.shelf[-1].id
    to_checkout = client.get(f"/live/{room.session_id}/buy/{item_id}")
    assert f"/checkout?variant={pair}" in to_checkout.headers["Location"]


def test_the_shelf_and_the_pin_lead_to_the_product_page(client, room, app):
    """Each shelf row buys in one tap, and has a way to the product's page (its photos and
    reviews); so has the pinned product's name. (What the page shows a viewer while the live
    price holds: test_product_page.py.)"""
    with app.app_context():
        slug = db.session.get(ShelfItem, room.items[0]).product.slug
    rows = _shelf_rows(client.get(f"/live/{room.session_id}").get_data(as_text=True))
    assert f'<a class="shelf-page" href="/p/{slug}">Details</a>' in rows[0]
    assert f'href="/live/{room.session_id}/buy/{room.items[0]}"' in rows[0]
    sign_in_host(client)
    client.post(f"/live/{room.session_id}/host/pin", data={"item": room.items[0]})
    pinned = [d for k, d in _events(app, room.session_id) if k == "pin"][-1]["pinned"]
    assert pinned["page"] == f"/p/{slug}"
    pin = client.get(f"/live/{room.session_id}").get_data(as_text=True)
    assert f'<a class="pin-name" id="pin-name" href="/p/{slug}">Green Tea</a>' in pin
    assert "Green Tea" in client.get(f"/p/{slug}").get_data(as_text=True)


def test_the_host_sets_the_stream_from_the_console(client, room, app):
    """A one-tap session has no stream: the console says so and takes one; the room plays it
    (and its content policy allows it), viewers' rooms are told to load it; bad ones change
    nothing, and nothing changes an ended session."""
    with app.app_context():
        session = db.session.get(LiveSession, room.session_id)
        session.stream_url = ""
        db.session.commit()
    sign_in_host(client)
    console = client.get(f"/live/{room.session_id}/host").get_data(as_text=True)
    assert "not set: viewers see no picture" in console and 'id="stream-form"' in console
    url = f"/live/{room.session_id}/host/stream"
    bad = client.post(url, data={"stream_kind": "hls", "stream_url": "rtmp://push.example/x"})
    assert bad.status_code == 400
    assert bad.get_json()["error"] == "The stream address must start with https:// or http://."
    empty = client.post(url, data={"stream_kind": "hls", "stream_url": " "})
    assert empty.get_json()["error"] == "Enter the stream address."
    odd = client.post(url, data={"stream_kind": "hls", "stream_url": "https://a.example;x y/s"})
    assert odd.get_json()["error"] == "The stream address is not a web address."
    long = client.post(
        url, data={"stream_kind": "hls", "stream_url": "https://a.example/" + "x" * 990}
    )
    assert long.status_code == 400 and "Stream address" in long.get_json()["error"]
    assert not [k for k, _ in _events(app, room.session_id) if k == "stream"]

    playback = "https://cdn.example/live/li-na.m3u8"
    saved = client.post(url, data={"stream_kind": "hls", "stream_url": playback})
    assert saved.get_json() == {
        "ok": True,
        "status": "live",
        "message": "Stream saved: viewers see it now.",
    }
    assert [k for k, _ in _events(app, room.session_id)][-1] == "stream"
    again = client.post(url, data={"stream_kind": "hls", "stream_url": playback})
    assert again.get_json()["ok"] is True
    assert [k for k, _ in _events(app, room.session_id)].count("stream") == 1  # unchanged
    page = app.test_client().get(f"/live/{room.session_id}")
    assert f'data-hls="{playback}"' in page.get_data(as_text=True)
    assert "media-src 'self' blob: https://cdn.example" in page.headers["Content-Security-Policy"]
    console = client.get(f"/live/{room.session_id}/host").get_data(as_text=True)
    assert "not set: viewers see no picture" not in console

    client.post(f"/live/{room.session_id}/host/end")
    ended = client.post(url, data={"stream_kind": "hls", "stream_url": playback + "?2"})
    assert ended.status_code == 400
    with app.app_context():
        assert db.session.get(LiveSession, room.session_id).stream_url == playback


def test_a_stored_address_that_is_no_plain_host_plays_nothing(client, room, app):
    """Whoever stored it (the admin, an old row), an address whose host a browser would not
    read as one is not played, and nothing of it reaches the room's content policy."""
    with app.app_context():
        session = db.session.get(LiveSession, room.session_id)
        session.stream_url = "https://a.example;script-src *;/s.m3u8"
        db.session.commit()
    page = client.get(f"/live/{room.session_id}")
    assert "data-hls" not in page.get_data(as_text=True)
    assert "script-src *" not in page.headers["Content-Security-Policy"]
