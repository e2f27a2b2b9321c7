"""Signing in by a code sent to the phone: the two steps' forms. ``shop.customers.signin``
checks the phone and the code and words every refusal."""

from __future__ import annotations

from wtforms import HiddenField, StringField

from shop.web.forms import StorefrontForm


class SignInForm(StorefrontForm):
    """Step one: the phone to send a code to; ``next`` is where to go once signed in."""

    phone = StringField(default="")
    next = HiddenField()


class SignInCodeForm(StorefrontForm):
    """Step two: the code received (the phone travels in a hidden field, or the session)."""

    phone = HiddenField(default="")
    code = StringField(default="")
    next = HiddenField()
