"""The session cookie: a cookie verified once is kept, and serves later requests exactly as
verifying it again would (its own copy of what it holds, its expiry, its signature)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask import jsonify, session


@pytest.fixture
def app(app):
    def put():
        from flask import request

        session.setdefault("box", {})[request.args["k"]] = True  # changed in place
        session.modified = True
        return jsonify(sorted(session["box"]))

    def get():
        return jsonify(sorted(session.get("box", {})))

    app.add_url_rule("/test/put", "test_put", put)
    app.add_url_rule("/test/get", "test_get", get)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=1)
    return app


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_kept_cookie_gives_each_request_its_own_copy(client):
    assert client.get("/test/put?k=a").json == ["a"]
    first = _cookie(client)
    assert client.get("/test/get").json == ["a"]  # verified, and kept
    assert client.get("/test/put?k=b").json == ["a", "b"]  # changes its copy in place
    client.set_cookie("session", first)  # the first cookie again (another tab)
    assert client.get("/test/get").json == ["a"]


def test_a_kept_cookie_still_expires(client, monkeypatch):
    client.get("/test/put?k=a")
    assert client.get("/test/get").json == ["a"]
    later = time.time() + 2 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/test/get").json == []


def test_a_changed_cookie_is_refused_though_its_original_is_kept(client):
    client.get("/test/put?k=a")
    cookie = _cookie(client)
    assert client.get("/test/get").json == ["a"]
    payload, stamp, signature = cookie.rsplit(".", 2)
    forged = (
        f"{payload}.{stamp}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    )
    client.set_cookie("session", forged)
    assert client.get("/test/get").json == []


def _counting_loads(monkeypatch) -> list:
    """Every cookie the serializer verifies and decodes (not answered from the kept ones)."""
    from itsdangerous import URLSafeTimedSerializer

    verified: list = []
    loads = URLSafeTimedSerializer.loads

    def counting(self, cookie, *args, **kwargs):
        verified.append(cookie)
        return loads(self, cookie, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "loads", counting)
    return verified


def test_a_cookie_is_verified_once_then_answered_from_the_kept_ones(client, monkeypatch):
    client.get("/test/put?k=a")
    verified = _counting_loads(monkeypatch)
    for _ in range(3):
        assert client.get("/test/get").json == ["a"]
    assert verified == [_cookie(client)]


def test_the_least_recently_used_cookie_is_dropped_when_too_many_are_kept(app, monkeypatch):
    from shop.web import session_cookie

    monkeypatch.setattr(session_cookie, "OPENED_COOKIES", 1)
    first, second = app.test_client(), app.test_client()
    first.get("/test/put?k=a")
    second.get("/test/put?k=b")
    verified = _counting_loads(monkeypatch)
    assert first.get("/test/get").json == ["a"]  # verified again: only one cookie is kept
    assert first.get("/test/get").json == ["a"]  # now kept
    assert second.get("/test/get").json == ["b"]  # verified again, and the first dropped
    assert first.get("/test/get").json == ["a"]
    assert verified == [_cookie(first), _cookie(second), _cookie(first)]
