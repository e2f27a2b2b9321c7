"""``/s/<code>`` has one route, the same on PostgreSQL and SQLite: the view owns the unit of
work (one commit), the opening is a few statements, and the answer is the redirect with the
visitor and session cookies. Statement counts guard atomicity and regressions, not speed."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from flask import Flask
from sqlalchemy import event, select

from distribution.attribution_session import shared_link
from distribution.factories import make_guide
from distribution.models import Binding, Visit
from distribution.sharing import link_for, settings
from shop.customers.identity import VISITOR_COOKIE
from shop.extensions import db
from tests.conftest import ON_POSTGRES
from tests.support.shop import small_catalog

PRODUCT_SLUG = "jasmine-tea"


@pytest.fixture
def code(ctx):
    store, _category, product = small_catalog()
    product.slug = PRODUCT_SLUG
    guide = make_guide(store, "Li Na")
    settings()  # the programme's rules exist (the first opening of a new shop makes them)
    db.session.commit()
    return link_for(guide, "product", product.id, "wechat-group").code


@pytest.fixture
def sql(app):
    """Statements and commits sent while a test runs."""
    seen = {"statements": [], "commits": 0}

    def statement(_conn, _cursor, text, *_args):
        seen["statements"].append(text)

    def commit(_conn):
        seen["commits"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    yield seen
    event.remove(engine, "before_cursor_execute", statement)
    event.remove(engine, "commit", commit)


def set_cookies(response) -> dict[str, dict]:
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        ((name, morsel),) = SimpleCookie(header).items()
        cookies[name] = {"value": morsel.value, **{k: v for k, v in morsel.items() if v}}
    return cookies


def test_the_app_has_no_second_pipeline(app):
    assert app.wsgi_app.__func__ is Flask.wsgi_app


@pytest.mark.parametrize("root", ["", "/shop"])
def test_a_new_visitor_is_recorded_bound_redirected_and_given_cookies(app, code, root, sql):
    client = app.test_client()

    response = client.get(f"/s/{code}", base_url=f"http://localhost{root}")
    statements, commits = len(sql["statements"]), sql["commits"]

    assert response.status_code == 302
    assert response.headers["Location"] == f"{root}/p/{PRODUCT_SLUG}"
    assert response.headers["Vary"] == "Cookie"
    cookies = set_cookies(response)
    assert set(cookies) == {VISITOR_COOKIE, app.config["SESSION_COOKIE_NAME"]}
    assert cookies[VISITOR_COOKIE]["httponly"] and cookies[VISITOR_COOKIE]["samesite"] == "Lax"
    with client.session_transaction() as session:
        assert shared_link(session) == code
    visitor = cookies[VISITOR_COOKIE]["value"]
    (visit,) = db.session.scalars(select(Visit)).all()
    (binding,) = db.session.scalars(select(Binding)).all()
    assert visit.visitor_id == binding.visitor_id == visitor
    assert binding.active and binding.link_id == visit.link_id
    # One unit of work, owned by the view: one commit; PostgreSQL sends one statement (link,
    # visit and binding together), SQLite three (the link, then the two rows).
    assert commits == 1
    assert statements == (1 if ON_POSTGRES else 3)


def test_a_returning_visitor_keeps_their_id_and_refreshes_the_binding(app, code, sql):
    client = app.test_client()
    client.get(f"/s/{code}")
    visitor = client.get_cookie(VISITOR_COOKIE).value
    sql["statements"].clear()
    sql["commits"] = 0

    again = client.get(f"/s/{code}")
    statements, commits = len(sql["statements"]), sql["commits"]

    assert again.status_code == 302
    assert VISITOR_COOKIE not in set_cookies(again)
    visits = db.session.scalars(select(Visit.visitor_id)).all()
    assert visits == [visitor, visitor]
    assert db.session.scalars(select(Binding.visitor_id).where(Binding.active)).all() == [visitor]
    assert commits == 1
    assert statements <= 4  # the link, the visit, the binding held, its refresh


def test_an_unknown_code_goes_home_and_commits_nothing_recorded(app, code):
    response = app.test_client().get("/s/NOSUCHCODE")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert db.session.scalars(select(Visit)).all() == []
