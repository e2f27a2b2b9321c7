"""Every return target stays inside the shop, whatever whitespace, control characters or
encodings it holds; one that cannot be used falls back, never a 500."""

from __future__ import annotations

import pytest

from shop.web.redirects import local_target
from tests.support.members import SENT, make_customer, sign_in_by_code
from tests.test_admin.conftest import EMAILS, PASSWORD, make_fast_staff


@pytest.fixture
def app_config(app_config):
    SENT.clear()
    return {**app_config, "SMS_SENDER": "tests.support.members.CapturingSender"}


HOSTILE = [
    "//evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/%2509/evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "https://evil.example/",
    "/\r\nLocation: https://evil.example",
    "/%0d%0aSet-Cookie:x=1",
    "javascript:alert(1)",
    " /me",
    "/me\x00",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_the_helper_refuses_anything_but_a_local_path(target):
    assert local_target(target, "/fallback") == "/fallback"


def test_the_helper_keeps_local_paths_and_their_queries():
    assert local_target("/p/green-tea?ref=chat#reviews", "/") == "/p/green-tea?ref=chat#reviews"
    assert local_target("/admin/orders/", "/admin/", prefix="/admin") == "/admin/orders/"
    assert local_target("/me", "/admin/", prefix="/admin") == "/admin/"
    assert local_target(None, "/x") == "/x"


@pytest.mark.parametrize("target", HOSTILE)
def test_the_language_switch_stays_in_the_shop(client, target):
    response = client.get("/lang/zh_Hans_CN", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/%09/evil.example", "/\n/evil.example", "//evil.example"])
def test_a_customer_signing_in_stays_in_the_shop(ctx, client, target):
    customer = make_customer(phone="13812349999")
    response = sign_in_by_code(client, customer.phone, next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/me"


@pytest.mark.parametrize("target", ["/admin\t//evil.example", "/admin/%0a", "//evil.example"])
def test_staff_signing_in_stay_in_the_admin(ctx, client, target):
    from shop.staff.models import Role

    make_fast_staff(EMAILS[Role.OWNER], Role.OWNER)
    from shop.extensions import db

    db.session.commit()
    response = client.post(
        "/admin/login",
        query_string={"next": target},
        data={"email": EMAILS[Role.OWNER], "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("target", ["/admin/\n", "https://evil.example/", "/%0d%0a"])
def test_the_admins_return_url_is_dropped_when_unusable(ctx, client, target):
    from shop.extensions import db
    from shop.staff.models import Role

    make_fast_staff(EMAILS[Role.OWNER], Role.OWNER)
    db.session.commit()
    client.post("/admin/login", data={"email": EMAILS[Role.OWNER], "password": PASSWORD})
    response = client.get("/admin/orders/", query_string={"url": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/orders/"
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "/admin/\r\nX: 1", "//evil.example"])
def test_an_admin_form_posting_an_unusable_return_url_changes_nothing(ctx, client, target):
    from sqlalchemy import func, select

    from shop.catalog.models import Store
    from shop.extensions import db
    from shop.staff.models import Role

    make_fast_staff(EMAILS[Role.OWNER], Role.OWNER)
    db.session.commit()
    client.post("/admin/login", data={"email": EMAILS[Role.OWNER], "password": PASSWORD})
    response = client.post(
        "/admin/stores/new/", data={"name": "Guangzhou Tianhe", "city": "广州", "url": target}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/stores/new/"
    assert db.session.scalar(select(func.count(Store.id))) == 0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "nothing was changed" in page


def test_an_admin_form_posting_its_own_return_url_goes_there(ctx, client):
    from sqlalchemy import func, select

    from shop.catalog.models import Store
    from shop.extensions import db
    from shop.staff.models import Role

    make_fast_staff(EMAILS[Role.OWNER], Role.OWNER)
    db.session.commit()
    client.post("/admin/login", data={"email": EMAILS[Role.OWNER], "password": PASSWORD})
    response = client.post(
        "/admin/stores/new/",
        data={"name": "Guangzhou Tianhe", "city": "广州", "url": "/admin/stores/?page=1"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/stores/?page=1"
    assert db.session.scalar(select(func.count(Store.id))) == 1
