"""API helpers: keys, authorised headers, a two-store shop with orders, a webhook receiver."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shop.api import keys
from shop.api.models import Scope
from shop.demo.factories import make_product, make_store
from shop.extensions import db
from tests.support.members import buy, pay
from tests.support.servers import free_port

EVERY_SCOPE = [s.value for s in Scope]
MAILED: list[tuple[str, str, str]] = []


class CapturingMailer:
    """The staff mailer of these tests (``MAIL_SENDER``): keeps (to, subject, body) in
    ``MAILED``."""

    def __init__(self, config) -> None:
        pass

    def send(self, to: str, subject: str, body: str) -> None:
        MAILED.append((to, subject, body))


def make_key(scopes=None, stores=(), **values) -> str:
    """A committed key; returns its secret."""
    _key, secret = keys.create_key(
        values.pop("name", "ERP"), list(scopes or EVERY_SCOPE), store_ids=list(stores), **values
    )
    db.session.commit()
    return secret


def auth(secret: str, **headers) -> dict:
    return {"Authorization": f"Bearer {secret}", **headers}


def posting(secret: str, key: str | None = None) -> dict:
    return auth(secret, **{"Idempotency-Key": key or uuid.uuid4().hex})


@dataclass
class TwoStores:
    store: object
    other: object
    product: object
    other_product: object
    order: object
    other_order: object


def two_stores(paid: bool = True) -> TwoStores:
    """Two stores, a product and a paid pick-up order in each (different customers)."""
    store = make_store("West Lake", "Hangzhou", "1 West Lake Rd")
    other = make_store("Bund", "Shanghai", "2 Bund Rd")
    product = make_product("Green Tea", price=5000, stock_qty=20, store=store)
    other_product = make_product("Black Tea", price=6000, stock_qty=20, store=other)
    db.session.commit()
    order = buy(product.variants[0], store, quantity=2)
    other_order = buy(other_product.variants[0], other, phone="13900001111", name="Han Mei")
    if paid:
        pay(order)
        pay(other_order)
    return TwoStores(store, other, product, other_product, order, other_order)


@dataclass
class Receiver:
    """A local HTTP server that answers with the statuses in ``script`` (then 200) and keeps
    every request it got."""

    script: list = field(default_factory=list)
    received: list = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def start(self, port: int = 0) -> Receiver:
        """Listen on ``port`` (a free one by default, below the ephemeral range so that it is
        still free when started again after ``stop``: ``tests.support.servers.free_port``)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((dict(self.headers), body.decode()))
                status, headers = 200, {}
                if receiver.script:
                    answer = receiver.script.pop(0)
                    status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status < 300 else b"nope")

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        return [json.loads(body) for _headers, body in self.received]
