"""Staff sign-in and sign-out at /admin/login and /admin/logout, with a failed-login limit.

The sign-in logic (the rate limit, the timing guard, safe redirects) is ``shop.staff.auth``,
shared with the guide workbench; this door lets in the roles that have admin permissions.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from admin.kit.forms import LoginForm, LogoutForm
from admin.permissions import ROLE_PERMISSIONS
from shop.staff.auth import authenticate, client_ip, throttle_message, throttled
from shop.web.redirects import local_target


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
                    error, status = throttle_message(), 429
                else:
                    staff, error = authenticate(
                        email,
                        form.password.data,
                        ip,
                        roles=ROLE_PERMISSIONS,
                        refused=_("This account cannot use the admin panel."),
                    )
                    if staff is not None:
                        login_user(staff)
                        return redirect(
                            local_target(form.next.data, url_for("admin.index"), prefix="/admin")
                        )
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
