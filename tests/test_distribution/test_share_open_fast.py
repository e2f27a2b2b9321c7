"""A browser without cookies opening ``/s/<code>``: on PostgreSQL ``NewVisitorOpenings``
answers it outside Flask's request pipeline; the answer and what is recorded must be the app's
own (compared with a browser that sends an unrelated cookie, which the app answers)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import psycopg
import pytest
from sqlalchemy import select

from distribution import views
from distribution.factories import make_guide
from distribution.models import Binding, Visit
from distribution.sharing import link_for
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
    db.session.commit()
    return link_for(guide, "product", product.id, "wechat-group").code


def cookie_attributes(response) -> dict[str, dict]:
    """Each Set-Cookie's attributes, its value left out (visitor ids and signatures differ)."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        ((name, morsel),) = SimpleCookie(header).items()
        attributes = {key: value for key, value in morsel.items() if value}
        attributes.pop("expires", None)  # a date a second apart
        cookies[name] = attributes
    return cookies


@pytest.mark.parametrize("root", ["", "/shop"])
def test_the_answer_is_the_apps_own(app, code, root):
    base_url = f"http://localhost{root}"
    plain = app.test_client().get(f"/s/{code}", base_url=base_url)
    through_app = app.test_client()
    through_app.set_cookie("lang", "en")
    other = through_app.get(f"/s/{code}", base_url=base_url)

    assert plain.status_code == other.status_code == 302
    assert plain.headers["Location"] == other.headers["Location"] == f"{root}/p/{PRODUCT_SLUG}"
    assert plain.headers.get("Vary") == other.headers.get("Vary") == "Cookie"
    assert plain.headers["Content-Type"] == other.headers["Content-Type"]
    assert cookie_attributes(plain) == cookie_attributes(other)
    assert set(cookie_attributes(plain)) == {VISITOR_COOKIE, app.config["SESSION_COOKIE_NAME"]}

    visits = db.session.scalars(select(Visit).order_by(Visit.id)).all()
    bindings = db.session.scalars(select(Binding).order_by(Binding.id)).all()
    visitors = [
        SimpleCookie(header)[VISITOR_COOKIE].value
        for response in (plain, other)
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith(VISITOR_COOKIE + "=")
    ]
    assert [v.visitor_id for v in visits] == [b.visitor_id for b in bindings] == visitors


@pytest.mark.postgres
def test_on_postgres_the_app_is_wrapped(app):
    assert isinstance(app.wsgi_app, views.NewVisitorOpenings)


@pytest.mark.postgres
def test_a_database_error_leaves_the_opening_to_the_app(app, code, monkeypatch):
    def failing(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "open_code_for_new_visitor", failing)
    client = app.test_client()

    response = client.get(f"/s/{code}")

    assert response.status_code == 302
    (visit,) = db.session.scalars(select(Visit)).all()
    assert visit.visitor_id == client.get_cookie(VISITOR_COOKIE).value
    assert db.session.scalars(select(Binding.visitor_id)).all() == [visit.visitor_id]


def test_sqlite_has_no_fast_path(app):
    assert isinstance(app.wsgi_app, views.NewVisitorOpenings) == ON_POSTGRES
