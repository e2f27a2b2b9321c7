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
