"""A process forked from one whose pool holds connections (gunicorn's preloaded master) opens
its own and leaves the parent's alone; the shop serves from workers forked that way."""

from __future__ import annotations

import os

import pytest
import requests
from sqlalchemy import text

from shop.catalog.models import Variant
from shop.extensions import db
from tests.support.servers import WebProcess
from tests.support.shop import checkout_form, small_catalog


def _backend() -> int:
    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
    db.session.commit()  # the connection goes back to the pool, as after a request
    return pid


@pytest.mark.postgres
def test_a_forked_child_connects_anew_and_the_parents_connection_stays_its_own(ctx):
    parent = _backend()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report the backend it talks to, then leave without cleanup
        try:
            os.write(write, str(_backend()).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as answer:
        childs = int(answer.read())
    assert childs != parent
    assert _backend() == parent  # the parent's connection was not closed or used by the child


def test_workers_forked_from_a_preloaded_master_serve_pages_and_orders(ctx, database_url, tmp_path):
    store, _, product = small_catalog(stock_qty=9)
    variant_id = product.variants[0].id
    server = WebProcess(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "forking",
            "WTF_CSRF_ENABLED": "0",
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    ).start()
    try:
        for n in range(3):
            page = requests.get(f"{server.url}/p/{product.slug}", timeout=10)
            assert page.status_code == 200 and "Green Tea" in page.text
            form = checkout_form(variant_id, store.id, phone=f"1380000000{n}")
            placed = requests.post(
                f"{server.url}/checkout", data=form, allow_redirects=False, timeout=10
            )
            assert placed.status_code == 303, placed.text[:3000]
            assert "/o/" in placed.headers["Location"]
    finally:
        server.stop()
    db.session.expire_all()
    assert db.session.get(Variant, variant_id).stock == 6
