"""Staff sign-in and sign-out at /admin/login and /admin/logout, with a failed-login limit.

Failed attempts are rows in ``LoginAttempt``. When an e-mail or an address has had
``LOGIN_MAX_FAILURES`` failures within ``LOGIN_WINDOW``, sign-in is refused with a message and
the password is not even checked, so guessing gains nothing. An unknown e-mail costs the same
password-hash check as a known one, so timing does not tell which accounts exist.
"""

from __future__ import annotations

from functools import cache

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from shop.extensions import db
from shop.models import LoginAttempt, Staff, utcnow

from .forms import LoginForm, LogoutForm
from .permissions import ROLE_PERMISSIONS


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-real-password")


def client_ip() -> str:
    return (request.remote_addr or "unknown")[:64]


def _recent_failures(column, value: str) -> int:
    since = utcnow() - current_app.config["LOGIN_WINDOW"]
    return db.session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(column == value, LoginAttempt.created_at >= since)
    )


def throttled(email: str, ip: str) -> bool:
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    return (
        _recent_failures(LoginAttempt.email, email) >= limit
        or _recent_failures(LoginAttempt.ip, ip) >= limit
    )


def record_failure(email: str, ip: str) -> None:
    """Count a failed attempt and forget the ones too old to matter."""
    db.session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.created_at < utcnow() - current_app.config["LOGIN_WINDOW"]
        )
    )
    db.session.add(LoginAttempt(email=email, ip=ip))
    db.session.commit()


def authenticate(email: str, password: str, ip: str) -> tuple[Staff | None, str]:
    """The staff member these credentials sign in, or None and the message to show.

    The caller has checked ``throttled`` first."""
    staff = db.session.scalar(select(Staff).where(Staff.email == email))
    if staff is None:
        check_password_hash(_dummy_hash(), password)
        record_failure(email, ip)
        return None, _("Wrong e-mail or password.")
    if not staff.check_password(password):
        record_failure(email, ip)
        return None, _("Wrong e-mail or password.")
    if not staff.active:
        return None, _("This account has been deactivated.")
    if staff.role not in ROLE_PERMISSIONS:
        return None, _("This account cannot use the admin panel.")
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    db.session.commit()
    return staff, ""


def safe_next(target: str | None) -> str:
    """Only a path inside the admin panel: never an open redirect."""
    if target and target.startswith("/admin") and "\\" not in target and "//" not in target:
        return target
    return url_for("admin.index")


class SignInMixin:
    """Sign-in and sign-out pages of the admin index view, open to everyone."""

    def _handle_view(self, name, **kwargs):
        if name in ("login", "logout"):
            return None
        return super()._handle_view(name, **kwargs)

    @expose("/login", methods=("GET", "POST"))
    def login(self):
        form = LoginForm(request.form if request.method == "POST" else None)
        if request.method == "GET":
            form.next.data = request.args.get("next", "")
        error, status = "", 200
        if request.method == "POST":
            if form.validate():
                email = form.email.data.strip().lower()
                ip = client_ip()
                if throttled(email, ip):
                    minutes = int(current_app.config["LOGIN_WINDOW"].total_seconds() // 60)
                    error, status = (
                        _(
                            "Too many failed sign-ins. Wait %(minutes)d minutes and try again.",
                            minutes=minutes,
                        ),
                        429,
                    )
                else:
                    staff, error = authenticate(email, form.password.data, ip)
                    if staff is not None:
                        login_user(staff)
                        return redirect(safe_next(form.next.data))
                    status = 401
            elif form.meta.csrf and form.csrf_token.errors:
                error, status = _("The form expired. Please sign in again."), 400
            else:
                error, status = _("Enter your e-mail and password."), 400
        return self.render("admin/siyu/login.html", form=form, error=error), status

    @expose("/logout", methods=("POST",))
    def logout(self):
        if LogoutForm(request.form).validate():
            logout_user()
            flash(_("You are signed out."), "success")
        return redirect(url_for("admin.login"))
