"""Admin test data (two stores, a product and a pay-at-store order in each, one staff per role),
signing in, and reading what the admin sends back (CSRF tokens, idempotency keys, CSV exports).

CSRF protection is off in the tests; a test or class marked ``@pytest.mark.csrf`` runs with it
on (``as_role`` then signs in with the form's token)."""

from __future__ import annotations

import csv
import io
import re
from types import SimpleNamespace

import pytest
from werkzeug.security import generate_password_hash

from shop.demo.factories import make_category, make_product, make_store
from shop.extensions import db
from shop.staff.models import Role, Staff
from tests.support.shop import order_for

PASSWORD = "correct-horse-battery"
EMAILS = {
    Role.OWNER: "owner@test.example",
    Role.MANAGER: "manager@test.example",
    Role.FINANCE: "finance@test.example",
    Role.SUPPORT: "support@test.example",
}


# One cheap hash for every test account: scrypt at full strength costs ~0.5 s per call here.
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def make_fast_staff(email: str, role: str, stores=()) -> Staff:
    staff = Staff(email=email, name=email.split("@")[0], role=role, password_hash=FAST_HASH)
    staff.stores = list(stores)
    db.session.add(staff)
    db.session.flush()
    return staff


@pytest.fixture
def shop_data(app):
    """Ids only: objects would be detached from the requests' sessions."""
    with app.app_context():
        store_a = make_store("Store A", "Hangzhou")
        store_b = make_store("Store B", "Chengdu")
        tea = make_category("Tea")
        product_a = make_product(
            "Green Tea", category=tea, store=store_a, variants=[("50 g", 4800, 10)]
        )
        product_b = make_product("Red Tea", category=tea, store=store_b, price=5600, stock_qty=10)
        staff = {
            role: make_fast_staff(email, role, stores=[store_a] if role == Role.MANAGER else [])
            for role, email in EMAILS.items()
        }
        db.session.commit()
        order_a = order_for(product_a.variants[0], store_a, 2, phone="13812341234")
        order_b = order_for(product_b.variants[0], store_b, 1, phone="13998765432")
        return SimpleNamespace(
            store_a=store_a.id,
            store_b=store_b.id,
            product_a=product_a.id,
            product_b=product_b.id,
            variant_a=product_a.variants[0].id,
            variant_b=product_b.variants[0].id,
            order_a=order_a.id,
            order_b=order_b.id,
            staff={role: s.id for role, s in staff.items()},
        )


def pytest_configure(config):
    config.addinivalue_line("markers", "csrf: the admin test runs with CSRF protection on")


@pytest.fixture
def app_config(app_config, request):
    if request.node.get_closest_marker("csrf") is None:
        return app_config
    return {**app_config, "WTF_CSRF_ENABLED": True}


def login(client, role_or_email, password: str = PASSWORD, *, with_token: bool = False):
    """Post the sign-in form; ``with_token`` first reads the form's CSRF token from the page."""
    data = {"email": EMAILS.get(role_or_email, role_or_email), "password": password}
    if with_token:
        data["csrf_token"] = csrf_token(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data=data)


def signed_in(client, role):
    """The client, signed in as that role's staff member (with the token when CSRF is on)."""
    response = login(client, role, with_token=client.application.config["WTF_CSRF_ENABLED"])
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def as_role(client, shop_data):
    """``as_role(Role.MANAGER)`` signs the test client in as that role's staff member; another
    browser is ``signed_in(app.test_client(), role)``."""

    def sign_in(role):
        return signed_in(client, role)

    return sign_in


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def idempotency_key(html: str) -> str:
    """The hidden key a refund or points adjustment form is shown with."""
    match = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html)
    assert match, "no idempotency key in the page"
    return match.group(1)


def csv_rows(response) -> list[dict]:
    """A CSV export's rows, by column label (it starts with a UTF-8 byte-order mark)."""
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff"), "a CSV export starts with a byte-order mark"
    return list(csv.DictReader(io.StringIO(text[1:])))
