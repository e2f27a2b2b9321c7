"""The signed session cookie, as Flask makes it, with its serializer built once per key.

Flask builds a new signing serializer twice per request (to read the cookie and to write it).
A serializer holds no per-request state, so one per set of keys (the secret key and its
fallbacks, as configured when the request comes) serves every request; what that saves is in
bench/README.md.
"""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface


class SessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict = {}

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer
