"""The pages the admin's views share beyond the base view: custom pages (a form page, an action
button), the single-row settings view, and the list page with tools and an introduction.

A custom page is a short class: ``FormPage`` (a page with one form: GET shows it, POST calls one
service) or ``ActionButton`` (a POST from a button on another page, running one service on one
row). Each holds the skeleton such pages share: the permission, the form and its CSRF token, the
row through the view's store-scoped query (another store's is a 404), the service, its message,
the redirect. The services write their own audit entries; the page is the unit of work (the service
does not commit); a refusal (any ``ShopError``) goes through ``admin.base.refused``: rolled
back, its message shown.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import lazy_gettext as _l

from admin.base import StaffModelView, refused
from admin.kit.forms import AdminForm, IdForm
from admin.permissions import may
from shop.errors import ShopError
from shop.infra.unit_of_work import unit_of_work

FORM_EXPIRED = _l("The form expired. Reload the page and try again.")


# Custom pages --------------------------------------------------------------------------------


class CustomPage:
    """A page of a model view beyond Flask-Admin's own, declared as a class and mounted in the
    view with ``route``: ``grant_view = GrantCoupon.route("/grant/")`` (the endpoint is the
    attribute's name). Each request makes an instance holding the view."""

    permission: str
    methods: tuple[str, ...] = ("GET", "POST")

    def __init__(self, view):
        self.view = view

    @classmethod
    def route(cls, url: str):
        def serve(view):
            return cls(view).response()

        serve.__doc__ = cls.__doc__
        return expose(url, methods=cls.methods)(serve)

    def response(self):
        raise NotImplementedError


class FormPage(CustomPage):
    """A custom page with one form. GET shows it; POST validates it and calls ``submit``, which
    runs the service and flashes what it did (then the page redirects to ``done_url``) or
    returns the message to show on the form again (status ``error_status``). A subclass
    declares ``permission``, ``form_class`` and ``template`` and fills in the hooks it needs."""

    form_class: type[AdminForm]
    template: str
    #: the message for a form that does not validate (its token being fine); None: FORM_EXPIRED
    incomplete = None
    #: the status of the form shown again with an error
    error_status = 400

    def load(self):
        """Look up what the page is about (through the view's scoped query); a response returned
        here (a redirect) ends the request."""
        return None

    def blank_form(self) -> AdminForm:
        """The form a GET shows, with its first values."""
        return self.form_class()

    def fill(self, form) -> None:
        """Complete the form, shown or posted: choices, hidden ids."""

    def context(self) -> dict:
        """More values for the template."""
        return {}

    def may_submit(self) -> bool:
        """False: a POST only shows the page again (nothing to choose from)."""
        return True

    def submit(self, form) -> str | None:
        """Run the service and flash what it did; or return the message to show instead."""
        raise NotImplementedError

    def after_commit(self) -> None:
        """Runs once ``submit``'s unit of work has committed: a call to the outside world that
        must hold no rows (a Stripe refund) goes here, with its own transactions."""

    def done_url(self) -> str:
        return url_for(".index_view")

    def invalid(self, form) -> str:
        if self.incomplete is None or (form.meta.csrf and form.csrf_token.errors):
            return str(FORM_EXPIRED)
        return str(self.incomplete)

    def response(self):
        if not may(self.permission):
            return self.view.forbidden()
        early = self.load()
        if early is not None:
            return early
        posted = request.method == "POST"
        form = self.form_class(request.form) if posted else self.blank_form()
        self.fill(form)
        if posted and self.may_submit():
            error = self._submitted(form)
            if error is None:
                return redirect(self.done_url())
            flash(error, "error")
            return self.render(form), self.error_status
        return self.render(form)

    def _submitted(self, form) -> str | None:
        if not form.validate():
            return self.invalid(form)
        try:
            with unit_of_work():
                error = self.submit(form)
        except ShopError as exc:
            return refused(exc)
        if error is None:
            self.after_commit()
        return error

    def render(self, form):
        return self.view.render(self.template, form=form, **self.context())


class ActionButton(CustomPage):
    """A POST from a button on another page: it checks the permission and the form's token,
    loads the row through the view's scoped query, runs one service (``run``, which flashes
    what it did) and goes back. A subclass declares ``permission`` and fills in ``run``."""

    methods = ("POST",)
    form_class: type[AdminForm] = IdForm

    def allowed(self, form) -> bool:
        return may(self.permission)

    def load(self, form):
        return self.view.get_one(form.id.data)

    def run(self, row) -> None:
        raise NotImplementedError

    def back_url(self, row) -> str:
        return url_for(".details_view", id=row.id)

    def expired_url(self) -> str:
        return url_for(".index_view")

    def response(self):
        form = self.form_class(request.form)
        if not self.allowed(form):
            return self.view.forbidden()
        if not form.validate():
            flash(FORM_EXPIRED, "error")
            return redirect(self.expired_url())
        row = self.load(form)
        try:
            with unit_of_work():
                self.run(row)
        except ShopError as exc:
            flash(refused(exc), "error")
        return redirect(self.back_url(row))


class ToolsListView(StaffModelView):
    """A model view whose list page shows an introduction and links to its custom pages."""

    list_template = "admin/siyu/list.html"
    list_intro = None
    #: links above the list to the view's custom pages: (label, endpoint, permission or None)
    tools: tuple[tuple, ...] = ()

    def list_tools(self) -> list[tuple[str, str]]:
        """(label, url) of the custom pages the signed-in staff member may open."""
        return [
            (str(label), url_for(endpoint))
            for label, endpoint, permission in self.tools
            if permission is None or may(permission)
        ]


class SingleRowView(StaffModelView):
    """Settings kept in one row, made with its defaults on first use by ``load_row``: the list
    page goes straight to the row's form (or its details, for roles that may only read)."""

    allow_create = False

    def load_row(self):
        """The settings row (each subclass names the service that makes it)."""
        raise NotImplementedError

    @expose("/")
    def index_view(self):
        with unit_of_work():
            row = self.load_row()
        if self.can_edit:
            return redirect(url_for(".edit_view", id=row.id))
        return redirect(url_for(".details_view", id=row.id))
