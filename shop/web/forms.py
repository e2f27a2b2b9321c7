"""The base of every storefront form.

A storefront form reads what a page posts into typed values: ids, quantities, points, text.
What the values must satisfy (a name given, a store that exists, enough stock, a coupon that
applies) is decided by the service the view calls, which words each refusal; the other entry
points (the admin, the API, the demo data) obey the same service.

CSRF: ``CSRFProtect`` checks every POST of the app before its view runs (``cart_add`` and the
Stripe webhook are exempt), so the forms do not check the token a second time; the checkout
form is also read from a "Buy now" link, which carries none.
"""

from __future__ import annotations

from flask_wtf import FlaskForm


class StorefrontForm(FlaskForm):
    class Meta:
        csrf = False

        def bind_field(self, form, unbound_field, options):
            """A field without a label gets an empty one: storefront templates write their own
            labels, and the default label (the field's name, translated) cost a translation
            lookup per field on every request (18 on checkout)."""
            if not unbound_field.args and "label" not in unbound_field.kwargs:
                options = {**options, "label": ""}
            return super().bind_field(form, unbound_field, options)

    def first_error(self) -> str | None:
        """Validate; the first message of the first field that has one (fields in the order
        they are declared), or None."""
        self.validate()
        for messages in self.errors.values():
            if messages:
                return str(messages[0])
        return None
