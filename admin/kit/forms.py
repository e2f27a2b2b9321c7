"""Admin forms: the CSRF-protected base form, sign-in and sign-out, a button acting on one row.

Every admin form derives from ``AdminForm`` (Flask-Admin's ``SecureForm``): model forms, the
list's action and delete forms, sign-in, sign-out, order actions and refunds. The token is tied
to the session; the shop's own CSRFProtect skips the admin blueprints because of it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_admin.form import SecureForm
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from markupsafe import Markup
from wtforms import HiddenField, PasswordField, StringField
from wtforms.csrf.session import SessionCSRF
from wtforms.validators import DataRequired, Length, ValidationError

HIDDEN_TYPES = {"HiddenField", "CSRFTokenField"}


class AdminCSRF(SessionCSRF):
    """SessionCSRF that refuses a token posted with a session that never had one (no 500)."""

    def validate_csrf_token(self, form, field):
        if "csrf" not in self.session:
            raise ValidationError(field.gettext("CSRF token missing."))
        super().validate_csrf_token(form, field)


class AdminForm(SecureForm):
    class Meta:
        csrf_class = AdminCSRF

        @property
        def csrf(self) -> bool:
            return bool(current_app.config.get("WTF_CSRF_ENABLED", True))

        @property
        def csrf_time_limit(self) -> timedelta | None:
            seconds = current_app.config.get("WTF_CSRF_TIME_LIMIT")
            return timedelta(seconds=seconds) if seconds else None

    def hidden_tag(self) -> Markup:
        """The hidden fields, token included. Flask-Admin's form macro uses this when present
        instead of adding the shop's own CSRF token, which would shadow this form's."""
        return Markup("").join(field() for field in self if field.type in HIDDEN_TYPES)

    def validate(self, extra_validators=None) -> bool:
        """Field errors as plain text: Flask-Admin shows a field's error under it only when the
        error is a ``str``, and a field that raises ``ValueError(_l(...))`` while parsing (money,
        percentages, pickers) leaves a lazy string."""
        valid = super().validate(extra_validators)
        for field in self:
            field.errors = [str(e) if isinstance(e, LazyString) else e for e in field.errors]
        return valid


class LoginForm(AdminForm):
    email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=512)])
    next = HiddenField()


class LogoutForm(AdminForm):
    pass


class IdForm(AdminForm):
    """The form of a button that acts on one row (``admin.kit.pages.ActionButton``)."""

    id = HiddenField(validators=[DataRequired()])
