"""The signed session cookie, as Flask makes it, with its serializer built once per key, and a
permanent session's cookie re-issued once a day rather than on every response.

Flask builds a new signing serializer twice per request (to read the cookie and to write it).
A serializer holds no per-request state, so one per set of keys (the secret key and its
fallbacks, as configured when the request comes) serves every request; what that saves is in
bench/README.md.

A cookie's signature covers its payload and the second it was made: the same payload in the
same second gets the same cookie, so a signed cookie is kept for the rest of its second (a
share link posted to a big group gives every new visitor the same session, many a second).

A cookie the shop has verified is kept too, with what it holds, so a visitor's next request with
the same cookie (every page view until their session changes) is not verified and decoded
again: each request gets its own deep copy of what it holds, which it may change freely.

A permanent session (a signed-in member's, a guide's) is re-signed and sent back on every
response by default (``SESSION_REFRESH_EACH_REQUEST``), only to move its expiry on. Here an
unchanged session's cookie is sent again once it is a day old: its lifetime still slides with
use (to within a day), and a member's page view signs nothing.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

#: an unchanged permanent session's cookie is re-issued once it is this old
REFRESH_AFTER = timedelta(days=1)
#: verified cookies kept per process, the least recently used dropped first
OPENED_COOKIES = 4096


class _Serializer(URLSafeTimedSerializer):
    """Flask's serializer, keeping each cookie it signs until its second ends."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._signed: tuple[int, dict] = (0, {})
        self._opened: OrderedDict[str, tuple[dict, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def dumps(self, obj, salt=None):
        second = int(time.time())
        kept_second, kept = self._signed
        if kept_second != second:
            kept = {}
            self._signed = (second, kept)
        key = (self.dump_payload(obj), salt)
        cookie = kept.get(key)
        if cookie is None:
            cookie = kept[key] = super().dumps(obj, salt)
        return cookie

    def loads_kept(self, cookie: str, max_age: int) -> tuple[dict, datetime]:
        """``loads(cookie, max_age=max_age, return_timestamp=True)``, from the cookies this
        serializer verified before when it holds this one; raises as ``loads`` does."""
        with self._lock:
            opened = self._opened.get(cookie)
            if opened is not None:
                self._opened.move_to_end(cookie)
        if opened is None:
            data, issued_at = self.loads(cookie, max_age=max_age, return_timestamp=True)
            with self._lock:
                self._opened[cookie] = (data, issued_at)
                if len(self._opened) > OPENED_COOKIES:
                    self._opened.popitem(last=False)
        else:
            data, issued_at = opened
            age = int(time.time()) - int(issued_at.timestamp())  # whole seconds, as loads
            if age > max_age:
                raise SignatureExpired(f"Signature age {age} > {max_age} seconds")
        return copy.deepcopy(data), issued_at


class SessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict = {}

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = _Serializer(
                [*keys[1], keys[0]],  # itsdangerous expects the current key last
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={
                    "key_derivation": self.key_derivation,
                    "digest_method": self.digest_method,
                },
            )
        return serializer

    def open_session(self, app, request):
        """Flask's, keeping when the cookie was signed (``issued_at``)."""
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, issued_at = serializer.loads_kept(value, max_age)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.issued_at = issued_at
        return session

    def should_set_cookie(self, app, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        issued_at = getattr(session, "issued_at", None)
        return issued_at is None or datetime.now(UTC) - issued_at >= REFRESH_AFTER
