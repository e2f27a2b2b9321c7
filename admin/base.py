"""The one base view every admin view builds on.

``SecuredView`` lets in only signed-in, active staff holding the view's permission (others go
to the sign-in page, or get 403). ``StaffModelView`` adds, for Flask-Admin model views:

- store scoping: ``get_query``, ``get_count_query`` and ``get_one`` only reach the rows of a
  store manager's stores, so every list, detail page, edit form, export and action is limited;
  an id outside them is a 404, in actions too; relation choices in forms are limited the same way;
- CSRF: ``form_base_class`` is ``AdminForm`` (a ``SecureForm``), which the list's action and
  delete forms inherit;
- the audit hook: every create, update and delete made through a form is written to the audit
  log in the same transaction, with the values before and after;
- domain errors: a ``shop.errors.ShopError`` (the root of every domain's errors) raised by a
  service, in a form's hooks, an action, a custom page or a button, is rolled back and its
  message shown, here and nowhere else (``refused``); views call services and let them refuse;
- times: stored as naive UTC, shown in lists and detail pages, typed in forms and filters, in
  the shop's time zone (``SHOP_TIMEZONE``, the one the storefront shows), named in the navbar.
  Exports keep UTC.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

from flask import abort, flash, g, has_request_context, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext as admin_lazy_gettext
from flask_admin.babel import ngettext as admin_ngettext
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import IntEqualFilter
from flask_admin.model import typefmt
from flask_babel import format_datetime, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from admin.kit.formatters import yes_no_mark, yes_no_word
from admin.kit.forms import AdminForm, LogoutForm
from admin.kit.times import (
    LocalTimeFilterConverter,
    LocalTimeModelConverter,
    local_to_the_second,
    to_the_minute,
)
from admin.permissions import ROLE_LABELS, current_staff, may, store_clause, store_of, store_scope
from shop.catalog.models import Store
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.infra.unit_of_work import unit_of_work
from shop.infra.vocab import VOCABULARY
from shop.staff import audit
from shop.web.redirects import local_target


def refused(exc: ShopError) -> str:
    """The one place a domain error becomes what staff read: whatever the action began is
    rolled back, and the error's message is returned, to flash or to show on the form."""
    db.session.rollback()
    return exc.message


def here() -> str:
    """The current path with its query string, for coming back after signing in."""
    return request.full_path.rstrip("?")


class SecuredView:
    """Mix into every admin view, before the Flask-Admin class."""

    permission = "dashboard"

    def is_accessible(self) -> bool:
        return may(self.permission)

    def inaccessible_callback(self, name, **kwargs):
        if current_staff() is None:
            return redirect(url_for("admin.login", next=here()))
        return self.forbidden()

    def forbidden(self):
        message = _("Your role does not allow this. Ask an owner if you need it.")
        return self.render("admin/siyu/notice.html", message=message, level="warning"), 403

    def create_blueprint(self, admin):
        """The view's blueprint, whose pages answer a record that is missing, or not of the
        staff member's stores, with an admin page (the shop's 404 page is the storefront's)."""
        blueprint = super().create_blueprint(admin)
        blueprint.register_error_handler(404, self.not_found)
        return blueprint

    def not_found(self, _error):
        message = _("There is no such record, or it is not in your stores.")
        return self.render("admin/siyu/notice.html", message=message, level="secondary"), 404

    def _run_view(self, fn, *args, **kwargs):
        """A domain error escaping one of this view's pages (an action, a back-test) is shown
        as a flash and the staff member goes back (``refused_url``); nothing was changed.

        Flask-Admin's return target (``url``, read from the address and from a form body)
        must be a path inside the admin (``shop.web.redirects``): in the address any other is
        dropped before the page runs; a form posting one was not made by the admin, so it is
        refused and changes nothing."""
        if not _usable_return(request.form.get("url")):
            flash(
                _("That form's return address is not inside the admin; nothing was changed."),
                "error",
            )
            return redirect(url_for(request.endpoint, **request.view_args))
        if not _usable_return(request.args.get("url")):
            query = request.args.to_dict(flat=False)
            query.pop("url")
            return redirect(url_for(request.endpoint, **request.view_args, **query))
        try:
            return super()._run_view(fn, *args, **kwargs)
        except ShopError as exc:
            flash(refused(exc), "error")
            return redirect(self.refused_url())

    def refused_url(self) -> str:
        return url_for(".index")

    def logout_form(self) -> LogoutForm:
        return LogoutForm()

    def staff(self):
        return current_staff()

    def role_label(self) -> str:
        staff = current_staff()
        return str(ROLE_LABELS.get(staff.role, staff.role)) if staff else ""

    def time_zone(self) -> str:
        """The zone the admin shows times in, in full: "Asia/Shanghai (GMT+08:00)" (the
        navbar's tooltip)."""
        return f"{get_timezone()} ({self.time_offset()})"

    def time_offset(self) -> str:
        """The zone's offset now, as the navbar shows it: "GMT+08:00"."""
        return format_datetime(utcnow(), "ZZZZ")


def parse_pk(value) -> int:
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 18:
        abort(404)
    return int(text)


class StoreFilter(IntEqualFilter):
    """A "store equals" filter offering only the stores the signed-in staff member may see."""

    def get_options(self, view):
        if not has_request_context():
            return None
        query = db.session.query(Store).order_by(Store.name)
        ids = store_scope()
        if ids is not None:
            query = query.filter(Store.id.in_(ids))
        return [(str(store.id), store.name) for store in query]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def spreadsheet_safe(value):
    """An exported cell a spreadsheet cannot run: text starting like a formula (``=``, ``+``,
    ``-``, ``@``, tab, carriage return) gets a leading apostrophe. A plain number, negative
    ones included, stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        if not _PLAIN_NUMBER.match(value):
            return "'" + value
    return value


class ExportRow:
    """One exported row's values, computed while the database session is open."""

    def __init__(self, values: dict):
        self.values = values


def _vocabulary_choices(model) -> dict:
    """``{column: [(value, label), ...]}`` for the model's columns that store a vocabulary
    (``info={VOCABULARY: ...}``)."""
    return {
        column.key: column.info[VOCABULARY].choices()
        for column in model.__table__.columns
        if VOCABULARY in column.info
    }


def _name_blank_choices(form):
    """A relation that may be empty offers "—" for nothing: Flask-Admin's blank choice has no
    label, so the select showed its value, "__None"."""
    for field in form:
        if getattr(field, "allow_blank", False) and not getattr(field, "blank_text", None):
            field.blank_text = "—"
    return form


class StaffModelView(SecuredView, ModelView):
    form_base_class = AdminForm
    model_form_converter = LocalTimeModelConverter
    filter_converter = LocalTimeFilterConverter()
    # Times are shown to the minute in the shop's time zone (exports: to the second, zone named).
    # Booleans are check marks (words in exports).
    column_type_formatters = {
        **typefmt.BASE_FORMATTERS,
        datetime: to_the_minute,
        bool: yes_no_mark,
    }
    column_type_formatters_detail = {
        **typefmt.DETAIL_FORMATTERS,
        datetime: to_the_minute,
        bool: yes_no_mark,
    }
    column_type_formatters_export = {
        **typefmt.EXPORT_FORMATTERS,
        datetime: local_to_the_second,
        bool: yes_no_word,
    }
    can_view_details = True
    can_set_page_size = True
    page_size = 50

    #: permission needed to create, edit, delete and run actions; None: read-only view
    edit_permission: str | None = None
    #: permission needed to run the view's actions (defaults to ``edit_permission``)
    action_permission: str | None = None
    #: permission needed to export; None: no export
    export_permission: str | None = None
    allow_create = True
    allow_edit = True
    allow_delete = False
    #: form relation fields whose choices follow the store scope, name -> model
    scoped_fields: dict = {}
    #: columns left out of the audit snapshot (recorded in their own entries)
    audit_exclude: frozenset[str] = frozenset()

    def __init__(self, model, **kwargs):
        # A column that stores a vocabulary shows its labels (lists, details, exports) unless
        # the view chose its own; an id column is "ID", not Flask-Admin's "Id".
        self.column_choices = {**_vocabulary_choices(model), **(self.column_choices or {})}
        self.column_labels = {"id": _l("ID"), **(self.column_labels or {})}
        super().__init__(model, db, **kwargs)

    # Permissions ---------------------------------------------------------------------------

    def _may_edit(self) -> bool:
        return self.edit_permission is not None and may(self.edit_permission)

    @property
    def can_create(self) -> bool:
        return self.allow_create and self._may_edit()

    @property
    def can_edit(self) -> bool:
        return self.allow_edit and self._may_edit()

    @property
    def can_delete(self) -> bool:
        return self.allow_delete and self._may_edit()

    @property
    def can_export(self) -> bool:
        return self.export_permission is not None and may(self.export_permission)

    def is_action_allowed(self, name: str) -> bool:
        if name == "delete":
            return self.can_delete
        permission = self.action_permission or self.edit_permission
        return permission is not None and may(permission)

    def _export_data(self):
        """Flask-Admin streams CSV exports after the request's database session is closed, so
        a relation read while writing a row would fail: compute every value here instead."""
        count, rows = super()._export_data()
        g.admin_export_count = len(rows)
        columns = [column for column, _label in self._export_columns]
        parent = super()
        return count, [
            ExportRow({c: spreadsheet_safe(str(parent.get_export_value(row, c))) for c in columns})
            for row in rows
        ]

    def get_export_value(self, model, name):
        if isinstance(model, ExportRow):
            return model.values[name]
        return super().get_export_value(model, name)

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """CSV starts with a UTF-8 byte-order mark: Excel on a Chinese Windows reads the file
        as UTF-8 only then (else names and notes come out garbled).

        Every export is audited before its rows leave (``audit_export``): who exported which
        list, how many rows, with which search and filters, and whether phones were in full."""
        response = super().export(export_type)
        if response.status_code == 200:
            with unit_of_work():
                self.audit_export(export_type)
            if export_type == "csv":
                response.response = itertools.chain(["\ufeff"], response.response)
        return response

    def audit_export(self, export_type: str) -> None:
        """Record an export in the audit log (``<name>.export``); does not commit."""
        columns = [str(column) for column, _label in self._export_columns]
        audit.record(
            current_staff(),
            f"{self.audit_name}.export",
            object_type=self.model.__name__,
            object_id="",
            store_id=None,
            after={
                "format": export_type,
                "rows": g.pop("admin_export_count", None),
                "columns": columns,
                "search": request.args.get("search") or "",
                "filters": {
                    key: value
                    for key, value in request.args.items(multi=True)
                    if key.startswith("flt")
                },
                "full_phones": "phone" in columns and may("phones.full"),
                "stores": sorted(store_scope()) if store_scope() is not None else "all",
            },
        )

    # Domain errors -------------------------------------------------------------------------

    def handle_view_exception(self, exc) -> bool:
        """Flask-Admin's create, edit and delete call this with what a hook raised (then roll
        back): a domain error is shown like a form error."""
        if isinstance(exc, ShopError):
            flash(refused(exc), "error")
            return True
        return super().handle_view_exception(exc)

    def refused_url(self) -> str:
        """Back to the row the refused page was about (``?id=``), else to the list."""
        row_id = request.args.get("id")
        if row_id and self.can_view_details:
            return url_for(".details_view", id=row_id)
        return url_for(".index_view")

    def each(self, rows, service, named=None, category: str = "error") -> int:
        """Run ``service`` on each row in its own unit of work (an action on several rows): a row
        it refuses shows the error (after ``named(row)``, if given) and the others go on.
        Returns how many went through."""
        done = 0
        for row in rows:
            try:
                with unit_of_work():
                    service(row)
            except ShopError as exc:
                message = refused(exc)
                flash(f"{named(row)}: {message}" if named else message, category)
            else:
                done += 1
        return done

    # Store scoping -------------------------------------------------------------------------

    def scope(self, query, model=None):
        ids = store_scope()
        if ids is None:
            return query
        clause = store_clause(model or self.model, ids)
        return query if clause is None else query.filter(clause)

    def get_query(self):
        return self.scope(super().get_query())

    def get_count_query(self):
        return self.scope(super().get_count_query())

    def get_one(self, id):
        found = self.get_query().filter(self.model.id == parse_pk(id)).one_or_none()
        if found is None:
            abort(404)
        return found

    def get_scoped(self, ids) -> list:
        """The rows with these ids, all within reach of the signed-in staff member, or 404."""
        wanted = {parse_pk(i) for i in ids}
        if not wanted:
            return []
        rows = self.get_query().filter(self.model.id.in_(wanted)).order_by(self.model.id).all()
        if len(rows) != len(wanted):
            abort(404)
        return rows

    def handle_action(self, return_view=None):
        self.get_scoped(request.form.getlist("rowid"))
        return super().handle_action(return_view)

    @action(
        "delete",
        admin_lazy_gettext("Delete"),
        admin_lazy_gettext("Are you sure you want to delete selected records?"),
    )
    def action_delete(self, ids):
        """Flask-Admin's own passes the ids as strings, which PostgreSQL refuses to compare
        with an integer key; this one loads them through the scoped query, as integers."""
        count = sum(1 for row in self.get_scoped(ids) if self.delete_model(row))
        flash(
            admin_ngettext(
                "Record was successfully deleted.",
                "%(count)s records were successfully deleted.",
                count,
                count=count,
            ),
            "success",
        )

    def _scope_choices(self, form):
        ids = store_scope()
        if ids is None:
            return form
        for name, model in self.scoped_fields.items():
            if name in form:
                clause = store_clause(model, ids)
                form[name].query_factory = lambda m=model, c=clause: db.session.query(m).filter(c)
        return form

    def create_form(self, obj=None):
        return _name_blank_choices(self._scope_choices(super().create_form(obj)))

    def edit_form(self, obj=None):
        return _name_blank_choices(self._scope_choices(super().edit_form(obj)))

    def check_store(self, model) -> None:
        """Refuse a change that would put data outside a manager's stores."""
        ids = store_scope()
        if ids is not None and store_of(model) not in ids:
            raise ValidationError(_("You can only change the data of your own stores."))

    def _get_filter_groups(self):
        groups = super()._get_filter_groups()
        for items in (groups or {}).values():
            for item in items:
                flt = self._filters[item["index"]]
                if isinstance(flt, StoreFilter):
                    item["options"] = flt.get_options(self)
        return groups

    # Audit ---------------------------------------------------------------------------------

    @property
    def audit_name(self) -> str:
        return self.model.__name__.lower()

    def audit_snapshot(self, model) -> dict:
        return {k: v for k, v in audit.snapshot(model).items() if k not in self.audit_exclude}

    def update_model(self, form, model):
        g.admin_audit_before = self.audit_snapshot(model)
        return super().update_model(form, model)

    def on_model_change(self, form, model, is_created):
        """Subclasses change the model first, then call this: it checks and audits."""
        db.session.flush()
        self.check_store(model)
        after = self.audit_snapshot(model)
        before = None
        if not is_created:
            old = g.pop("admin_audit_before", {})
            changed = [key for key in after if old.get(key) != after[key]]
            before = {key: old.get(key) for key in changed}
            after = {key: after[key] for key in changed}
            if not changed:
                return
        audit.record(
            current_staff(),
            f"{self.audit_name}.{'create' if is_created else 'update'}",
            model,
            before=before,
            after=after,
            store_id=store_of(model),
        )

    def on_model_delete(self, model):
        self.check_store(model)
        audit.record(
            current_staff(),
            f"{self.audit_name}.delete",
            model,
            before=self.audit_snapshot(model),
            after=None,
            store_id=store_of(model),
        )


def _usable_return(url: str | None) -> bool:
    return url is None or local_target(url, "", prefix="/admin") == url
