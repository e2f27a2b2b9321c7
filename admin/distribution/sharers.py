"""Distribution in the admin panel: the programme's settings, guides and promoters, levels,
share links, visits, bindings, attributions, commission rules, the commission ledger, balances
and payouts, acquisition costs, and the numbers.

Store scoping: a store manager reaches only the sharers of their stores and what hangs off
them (share links, visits, bindings, commission entries, payouts), and the attributions that
credit one of their stores, in every list, detail page, export, action and custom page; an id
outside them is a 404. ``scope`` below holds the rule; promoters without a store (recruited by
no guide) are head office's.

Changes go through the distribution services, which audit them: approving promoters
(``promoters.approve_promoter``), a guide leaving (``sharing.transfer_customers``), publishing
a rule (``rules.publish``), approving a payout (``commission.approve_payout``). The form views
(settings, guides, levels, draft rules, acquisition costs) are audited by the base view's hook,
before and after. Phone numbers are masked unless the role holds ``phones.full``.

Who may do what (the permission names are in ``admin.permissions``):

=================================  =====  ==========  =======  =======
page, action                       owner  manager     finance  support
=================================  =====  ==========  =======  =======
Programme settings                 edit
Guides and promoters               edit   own stores
- approve promoters, guide leaves  yes    own stores
Levels                             edit   read
Share links, visits, bindings      read   own stores
Attributions                       read   own stores
Commission rules (drafts)          edit                       edit
- publish, back-test, preview      yes                        yes
Commission ledger, CSV             read   own stores  read
Balances                           read   own stores  read
- approve payout                   yes                        yes
Payouts, CSV                       read   own stores  read
- sharer's full phone in the CSV   yes                        yes
Acquisition costs                  edit                       edit
Numbers                            read   own stores  read
=================================  =====  ==========  =======  =======
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import abort, current_app, flash, has_request_context, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import IntEqualFilter
from flask_admin.model.template import BaseListRowAction, DeleteRowAction, EditRowAction
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext, ngettext
from markupsafe import Markup
from sqlalchemy import func, select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from admin.base import (
    SecuredView,
    StaffModelView,
    StoreFilter,
    admin_time,
    money_formatter,
    parse_pk,
    phone_formatter,
)
from admin.kit.forms import IdForm, MoneyField, NotStored, password_field
from admin.kit.pages import (
    ActionButton,
    FormPage,
    KindValueField,
    SingleRowView,
    ToolsListView,
    choice_formatter,
    customer_cell,
    customer_formatter,
    money_text,
    order_cell,
    order_number,
)
from admin.permissions import current_staff, may, store_scope
from distribution import commission, numbers, promoters, rules, sharing
from distribution.attribution import explain
from distribution.models import (
    AcquisitionCost,
    Attribution,
    Binding,
    CommissionEntry,
    CommissionRule,
    Payout,
    ShareLink,
    Sharer,
    Visit,
)
from distribution.qr import link_url
from distribution.reports import CHANNEL_LABELS, target_names
from shop.catalog.models import Category, Product, Store, Variant
from shop.customers.models import Customer
from shop.customers.phones import mask_phone, normalize_phone
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.members.coupons import hundredths
from shop.money import format_money
from shop.orders.models import Order
from shop.staff import audit
from shop.staff.models import Role, Staff

KIND_LABELS = {"guide": _l("Guide"), "promoter": _l("Promoter")}
STATUS_LABELS = {"pending": _l("Pending approval"), "active": _l("Active"), "left": _l("Left")}
POLICY_LABELS = {
    "first-sharer-protected": _l("First sharer protected"),
    "last-click": _l("Last click"),
}
RULE_LABELS = {
    **POLICY_LABELS,
    "no-touch": _l("No share link opened"),
    "forged-code": _l("Unknown share code"),
    "self-purchase": _l("Self-purchase"),
    "sharer-inactive": _l("Sharer no longer active"),
}
TARGET_LABELS = {
    "home": _l("Home page"),
    "product": _l("Product"),
    "category": _l("Category"),
    "coupon": _l("Coupon"),
    "live": _l("Live session"),
}
SCOPE_LABELS = {
    "sku": _l("SKU (variant)"),
    "product": _l("Product"),
    "category": _l("Category"),
    "store": _l("Store"),
    "default": _l("Default"),
}
SCOPE_MODELS = {"sku": Variant, "product": Product, "category": Category, "store": Store}
RULE_KIND_LABELS = {"percent": _l("Percentage of the amount paid"), "fixed": _l("Fixed per unit")}
RULE_STATUS_LABELS = {
    "draft": _l("Draft"),
    "published": _l("Published"),
    "archived": _l("Archived"),
}
ENTRY_KIND_LABELS = {
    "accrue": _l("Accrued"),
    "settle": _l("Settled"),
    "payout": _l("Payout"),
    "reverse": _l("Reversed (refund)"),
}
BUCKET_LABELS = {
    "pending": lazy_pgettext("commission", "Pending"),
    "settled": _l("Settled"),
    "paid": lazy_pgettext("commission", "Paid"),
}
BACKTEST_ROWS_SHOWN = 200


# Store scoping -------------------------------------------------------------------------------

SHARER_OWNED = (ShareLink, Visit, Binding, CommissionEntry, Payout)


def sharers_of(store_ids: list[int]):
    """The ids of the sharers of these stores (never correlated with an outer query)."""
    return select(Sharer.id).where(Sharer.store_id.in_(store_ids)).correlate(None)


def distribution_clause(model, store_ids: list[int]):
    """The condition limiting ``model`` rows to a store manager's stores."""
    if model is Sharer:
        return Sharer.store_id.in_(store_ids)
    if model is Attribution:
        return Attribution.store_id.in_(store_ids)
    if model in SHARER_OWNED:
        return model.sharer_id.in_(sharers_of(store_ids))
    raise LookupError(f"no store scope for {model.__name__}")


def scoped_sharers():
    """``select(Sharer)`` limited to the signed-in staff member's stores."""
    stmt = select(Sharer)
    ids = store_scope()
    if ids is not None:
        stmt = stmt.where(Sharer.store_id.in_(ids))
    return stmt


class SharerFilter(IntEqualFilter):
    """A "sharer equals" filter offering the sharers the signed-in staff member may see."""

    def get_options(self, view):
        if not has_request_context():
            return None
        found = db.session.scalars(scoped_sharers().order_by(Sharer.name, Sharer.id))
        return [(str(sharer.id), sharer.name) for sharer in found]


class DistributionView(ToolsListView):
    """A view of rows that belong to a store through their sharer (or the store credited)."""

    def scope(self, query, model=None):
        ids = store_scope()
        if ids is None:
            return query
        return query.filter(distribution_clause(model or self.model, ids))

    def _get_filter_groups(self):
        groups = super()._get_filter_groups()
        for items in (groups or {}).values():
            for item in items:
                flt = self._filters[item["index"]]
                if isinstance(flt, SharerFilter):
                    item["options"] = flt.get_options(self)
        return groups


# Cells ---------------------------------------------------------------------------------------


def sharer_cell(sharer: Sharer | None):
    if sharer is None:
        return ""
    if not may("distribution.view"):
        return sharer.name
    return Markup('<a href="{}">{}</a>').format(
        url_for("admin_sharers.details_view", id=sharer.id), sharer.name
    )


def _sharer(view, context, model, name):
    return sharer_cell(getattr(model, name))


def _name(view, context, model, name):
    value = getattr(model, name)
    return value.name if value is not None else ""


def _order(view, context, model, name):
    return order_cell(model.order_id)


def _order_number(view, context, model, name):
    return order_number(model.order_id)


def _sharer_store(view, context, model, name):
    store = model.sharer.store if model.sharer is not None else None
    return store.name if store is not None else ""


def _plain_amount(view, context, model, name):
    """Export: an exact decimal amount (12345 CNY -> 123.45); the currency has its column."""
    return money_text(getattr(model, name), model.currency)


def _link_code(view, context, model, name):
    if not model.link_id:
        return ""
    return db.session.scalar(select(ShareLink.code).where(ShareLink.id == model.link_id))


# Programme settings --------------------------------------------------------------------------


class ProgrammeSettingsView(SingleRowView):
    permission = "programme.edit"
    edit_permission = "programme.edit"
    audit_name = "distribution_settings"
    column_details_list = form_columns = [
        "binding_policy",
        "protection_days",
        "validity_days",
        "depth",
        "self_purchase_earns",
        "return_window_days",
        "promoter_approval",
    ]
    column_labels = {
        "binding_policy": _l("Binding policy"),
        "protection_days": _l("Protection period (days)"),
        "validity_days": _l("Validity period (days)"),
        "depth": _l("Distribution depth"),
        "self_purchase_earns": _l("Self-purchases earn commission"),
        "return_window_days": _l("Return window (days)"),
        "promoter_approval": _l("Promoters need approval"),
    }
    column_formatters = {"binding_policy": choice_formatter(POLICY_LABELS)}
    form_choices = {"binding_policy": list(POLICY_LABELS.items())}
    form_overrides = {"depth": SelectField}
    form_args = {
        "binding_policy": {
            "description": _l(
                "First sharer protected: during the protection period another sharer's link "
                "does not take the customer over. Last click: the newest link opened wins."
            )
        },
        "protection_days": {
            "validators": [InputRequired(), NumberRange(min=0, max=3650)],
            "description": _l("How long a binding is protected from other sharers' links."),
        },
        "validity_days": {
            "validators": [InputRequired(), NumberRange(min=0, max=3650)],
            "description": _l("After this a binding credits no one; 0 keeps it for good."),
        },
        "depth": {
            "choices": [
                (1, _l("1 level: the sharer")),
                (2, _l("2 levels: the sharer and who recruited them")),
            ],
            "coerce": int,
        },
        "return_window_days": {
            "validators": [InputRequired(), NumberRange(min=0, max=365)],
            "description": _l("Pending commission is settled this many days after payment."),
        },
        "self_purchase_earns": {
            "description": _l("When off, a sharer buying through their own link earns nothing.")
        },
        "promoter_approval": {
            "description": _l("When on, new promoters wait until staff approve them.")
        },
    }

    def load_row(self):
        return sharing.settings()

    def on_model_change(self, form, model, is_created):
        if model.validity_days and model.validity_days < model.protection_days:
            raise ValidationError(
                _("The validity period cannot be shorter than the protection period.")
            )
        super().on_model_change(form, model, is_created)


# Guides and promoters ------------------------------------------------------------------------


class EmailField(NotStored, StringField):
    pass


class GuideLeavesForm(IdForm):
    heir = SelectField(_l("Move their customers to"), validators=[DataRequired()], choices=[])


def _balances(view, context, model, name):
    if not may("commission.view"):
        return ""
    money = commission.balances(model.id)
    currency = current_app.config["SHOP_CURRENCY"]
    shown = {key: format_money(money[key], currency) for key in ("pending", "settled", "paid")}
    return _("Pending %(pending)s · settled %(settled)s · paid %(paid)s", **shown)


def _manage(view, context, model, name):
    if view.may_leave(model):
        return Markup('<a class="btn btn-sm btn-outline-secondary" href="{}">{}</a>').format(
            url_for("admin_sharers.leave_view", id=model.id), _("Guide leaves…")
        )
    return ""


class GuideLeaves(FormPage):
    """A guide leaves: their customers and open bindings go to another guide of the store, or
    round-robin over all of them (``sharing.transfer_customers``, audited); their sign-in
    stops."""

    permission = "sharers.manage"
    form_class = GuideLeavesForm
    template = "admin/siyu/guide_leaves.html"
    error_status = 200

    def load(self):
        self.guide = self.view.get_one(request.values.get("id"))
        if self.guide.kind != "guide" or self.guide.status != "active":
            flash(_("%(name)s is not an active guide.", name=self.guide.name), "warning")
            return redirect(self.done_url())
        self.heirs = list(
            db.session.scalars(
                select(Sharer)
                .where(
                    Sharer.kind == "guide",
                    Sharer.status == "active",
                    Sharer.store_id == self.guide.store_id,
                    Sharer.id != self.guide.id,
                )
                .order_by(Sharer.name, Sharer.id)
            )
        )
        return None

    def fill(self, form):
        form.id.data = str(self.guide.id)
        form.heir.choices = [("all", _("Share them round-robin among all the store's guides"))] + [
            (str(heir.id), heir.name) for heir in self.heirs
        ]

    def may_submit(self):
        return bool(self.heirs)

    def submit(self, form):
        chosen = self.heirs if form.heir.data == "all" else []
        chosen = chosen or [h for h in self.heirs if str(h.id) == form.heir.data]
        moved = sharing.transfer_customers(self.guide, chosen, staff=current_staff())
        flash(
            ngettext(
                "%(name)s has left; %(num)d customer moved to %(to)s.",
                "%(name)s has left; %(num)d customers moved to %(to)s.",
                moved,
                name=self.guide.name,
                to=", ".join(h.name for h in chosen),
            ),
            "success",
        )
        return None

    def done_url(self):
        return url_for(".details_view", id=self.guide.id)

    def context(self):
        open_bindings = db.session.scalar(
            select(func.count(Binding.id)).where(
                Binding.sharer_id == self.guide.id, Binding.active.is_(True)
            )
        )
        return {"guide": self.guide, "heirs": self.heirs, "open_bindings": open_bindings}


class SharerView(DistributionView):
    """Guides and promoters. An owner adds a guide here with their sign-in (a staff login of
    role guide for the guide's store)."""

    permission = "distribution.view"
    edit_permission = "sharers.edit"
    action_permission = "sharers.manage"
    export_permission = "distribution.view"
    column_list = [
        "name",
        "kind",
        "store",
        "parent",
        "level",
        "status",
        "phone",
        "created_at",
        "manage",
    ]
    column_details_list = [
        "name",
        "kind",
        "store",
        "parent",
        "level",
        "status",
        "phone",
        "staff",
        "created_at",
        "balances",
    ]
    column_export_list = [
        "name",
        "kind",
        "store",
        "parent",
        "level",
        "status",
        "phone",
        "created_at",
    ]
    column_labels = {
        "name": _l("Name"),
        "kind": _l("Kind"),
        "store": _l("Store"),
        "parent": _l("Recruited by"),
        "level": _l("Level"),
        "status": _l("Status"),
        "phone": _l("Phone"),
        "staff": _l("Sign-in"),
        "created_at": _l("Since"),
        "balances": _l("Commission"),
        "manage": "",
        "email": _l("E-mail (to sign in at /guide)"),
        "password": _l("Password"),
    }
    column_choices = {"kind": list(KIND_LABELS.items()), "status": list(STATUS_LABELS.items())}
    column_formatters = {
        "phone": phone_formatter,
        "parent": _sharer,
        "staff": lambda v, c, m, n: m.staff.email if m.staff else "",
        "balances": _balances,
        "manage": _manage,
    }
    column_formatters_export = {"phone": phone_formatter}
    column_searchable_list = ["name", "phone"]
    column_filters = [StoreFilter(Sharer.store_id, _l("Store")), "kind", "status", "created_at"]
    column_sortable_list = ["name", "kind", ("store", "store.name"), "status", "created_at"]
    column_default_sort = ("id", True)
    form_columns = ["name", "store", "phone", "level", "email", "password"]
    form_args = {
        "phone": {"validators": [Length(max=32)]},
        "store": {"query_factory": lambda: db.session.query(Store).order_by(Store.name)},
    }
    form_extra_fields = {
        "email": EmailField(_l("E-mail"), validators=[Length(max=255)]),
        "password": password_field(),
    }
    scoped_fields = {"store": Store}

    details_template = "admin/siyu/sharer_details.html"
    leave_view = GuideLeaves.route("/leave/")

    def search_placeholder(self) -> str:
        return str(_l("Name or phone"))

    def may_leave(self, sharer: Sharer) -> bool:
        return sharer.kind == "guide" and sharer.status == "active" and may("sharers.manage")

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.password.description = _("At least 10 characters.")
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        for name in ("email", "password", "store"):
            del form[name]
        return form

    def on_model_change(self, form, model, is_created):
        if model.phone:
            try:
                model.phone = normalize_phone(model.phone)
            except InvalidInput as exc:
                raise ValidationError(exc.message) from None
        model.phone = model.phone or ""
        if not is_created:
            super().on_model_change(form, model, is_created)
            return
        with db.session.no_autoflush:
            login = self._guide_login(form, model)
        model.kind, model.status, model.staff = "guide", "active", login
        super().on_model_change(form, model, is_created)
        audit.record(
            current_staff(),
            "staff.create",
            login,
            after={"email": login.email, "role": Role.GUIDE.value, "store_ids": [model.store_id]},
            store_id=model.store_id,
        )

    def _guide_login(self, form, model) -> Staff:
        if model.store is None:
            raise ValidationError(_("A guide belongs to a store."))
        email = (form.email.data or "").strip().lower()
        if "@" not in email:
            raise ValidationError(_("Enter a valid e-mail address."))
        if db.session.scalar(select(Staff.id).where(Staff.email == email)):
            raise ValidationError(_("This e-mail address already has a sign-in."))
        if not form.password.data:
            raise ValidationError(_("Set a password for the guide's sign-in."))
        login = Staff(email=email, name=model.name, role=Role.GUIDE)
        login.stores = [model.store]
        login.set_password(form.password.data)
        db.session.add(login)
        return login

    @action("approve", _l("Approve promoters"), _l("Let the selected promoters share and earn?"))
    def action_approve(self, ids):
        approved = 0
        for sharer in self.get_scoped(ids):
            try:
                promoters.approve_promoter(sharer, current_staff())
            except InvalidInput as exc:
                flash(f"{sharer.name}: {exc.message}", "warning")
            else:
                approved += 1
        if approved:
            flash(
                ngettext("%(num)d promoter approved.", "%(num)d promoters approved.", approved),
                "success",
            )


class SharerLevelView(StaffModelView):
    """Levels are the programme's, shared by every store."""

    permission = "distribution.view"
    edit_permission = "sharers.edit"
    can_view_details = False
    column_list = form_columns = [
        "name",
        "rank",
        "multiplier_pct",
        "invites_needed",
        "team_sales_needed",
    ]
    column_labels = {
        "name": lazy_pgettext("not a person", "Name"),
        "rank": _l("Rank"),
        "multiplier_pct": _l("Commission multiplier (%)"),
        "invites_needed": _l("Promoters to invite"),
        "team_sales_needed": _l("Team sales needed"),
    }
    column_formatters = {
        "multiplier_pct": lambda v, c, m, n: f"×{hundredths(m.multiplier_pct)}",
        "team_sales_needed": money_formatter(),
    }
    column_default_sort = "rank"
    form_overrides = {"team_sales_needed": MoneyField}
    form_args = {
        "multiplier_pct": {
            "validators": [InputRequired(), NumberRange(min=0, max=1000)],
            "description": _l("100 pays the rule's rate; 120 pays 1.2 times it."),
        },
        "invites_needed": {"validators": [InputRequired(), NumberRange(min=0, max=100000)]},
        "rank": {"validators": [InputRequired(), NumberRange(min=0, max=1000)]},
    }

    def on_model_change(self, form, model, is_created):
        model.team_sales_needed = model.team_sales_needed or 0
        super().on_model_change(form, model, is_created)


# Links, visits, bindings, attributions (read only) -------------------------------------------


def _target(view, context, model, name):
    label = str(TARGET_LABELS.get(model.target_type, model.target_type))
    named = target_names([model]).get((model.target_type, model.target_id))
    return f"{label}: {named}" if named else label


def _pictures(view, context, model, name):
    links = [
        (url_for("distribution.qr_png_view", code=model.code), _("QR code")),
        (url_for("distribution.qr_svg_view", code=model.code), _("SVG")),
        (url_for("distribution.poster_view", code=model.code), _("Poster")),
    ]
    return Markup(" · ").join(
        Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(url, label)
        for url, label in links
    )


def _visit_count(view, context, model, name):
    return db.session.scalar(select(func.count(Visit.id)).where(Visit.link_id == model.id))


class ShareLinkView(DistributionView):
    permission = "distribution.view"
    column_list = [
        "code",
        "sharer",
        "store",
        "target",
        "channel",
        "visits",
        "created_at",
        "pictures",
    ]
    column_details_list = [
        "code",
        "url",
        "sharer",
        "store",
        "target",
        "channel",
        "visits",
        "created_at",
        "pictures",
    ]
    column_labels = {
        "code": _l("Code"),
        "url": _l("Link"),
        "sharer": _l("Sharer"),
        "sharer.name": _l("Sharer"),
        "store": _l("Store"),
        "target": _l("Leads to"),
        "target_type": _l("Leads to"),
        "channel": _l("Channel"),
        "visits": _l("Visits"),
        "created_at": _l("Made"),
        "pictures": _l("QR code and poster"),
    }
    column_formatters = {
        "url": lambda v, c, m, n: link_url(m),
        "sharer": _sharer,
        "store": _sharer_store,
        "target": _target,
        "channel": choice_formatter(CHANNEL_LABELS),
        "visits": _visit_count,
        "pictures": _pictures,
    }
    column_choices = {
        "channel": list(CHANNEL_LABELS.items()),
        "target_type": list(TARGET_LABELS.items()),
    }
    column_searchable_list = ["code", "sharer.name"]
    column_filters = [SharerFilter(ShareLink.sharer_id, _l("Sharer")), "channel", "target_type"]
    column_sortable_list = ["code", "channel", "created_at"]
    column_default_sort = ("id", True)

    def search_placeholder(self) -> str:
        return str(_l("Code or sharer"))


class VisitView(DistributionView):
    permission = "distribution.view"
    can_view_details = False
    column_display_actions = False
    column_list = ["created_at", "link", "sharer", "channel", "customer", "visitor_id"]
    column_labels = {
        "created_at": _l("When"),
        "link": _l("Link"),
        "sharer": _l("Sharer"),
        "channel": _l("Channel"),
        "customer": _l("Customer"),
        "visitor_id": _l("Visitor"),
    }
    column_formatters = {
        "link": lambda v, c, m, n: m.link.code,
        "sharer": _sharer,
        "channel": choice_formatter(CHANNEL_LABELS),
        "customer": lambda v, c, m, n: (
            customer_cell(db.session.get(Customer, m.customer_id)) if m.customer_id else ""
        ),
    }
    column_choices = {"channel": list(CHANNEL_LABELS.items())}
    column_filters = [SharerFilter(Visit.sharer_id, _l("Sharer")), "channel", "created_at"]
    column_sortable_list = ["created_at", "channel"]
    column_default_sort = ("id", True)


class BindingView(DistributionView):
    permission = "distribution.view"
    can_view_details = False
    column_display_actions = False
    column_list = [
        "customer",
        "visitor_id",
        "sharer",
        "link",
        "bound_at",
        "touched_at",
        "protected_until",
        "valid_until",
        "active",
        "ended_reason",
    ]
    column_labels = {
        "customer": _l("Customer"),
        "visitor_id": _l("Visitor"),
        "sharer": _l("Sharer"),
        "link": _l("Link"),
        "bound_at": _l("Bound"),
        "touched_at": _l("Last touch"),
        "protected_until": _l("Protected until"),
        "valid_until": _l("Valid until"),
        "active": _l("Active"),
        "ended_reason": _l("Ended"),
    }
    column_formatters = {
        "customer": customer_formatter,
        "sharer": _sharer,
        "link": _link_code,
        "ended_reason": choice_formatter(
            {"": "", "replaced": _l("Replaced"), "transferred": _l("Moved")}
        ),
    }
    column_filters = [
        SharerFilter(Binding.sharer_id, _l("Sharer")),
        "active",
        "ended_reason",
        "bound_at",
    ]
    column_sortable_list = ["bound_at", "touched_at", "protected_until", "active"]
    column_default_sort = ("id", True)


def _store_name(view, context, model, name):
    if not model.store_id:
        return ""
    return db.session.scalar(select(Store.name).where(Store.id == model.store_id))


def _touches(view, context, model, name):
    return "; ".join(
        f"{touch['sharer']} ({touch['link']}, {admin_time(datetime.fromisoformat(touch['at']))})"
        for touch in model.touches or []
    )


class AttributionView(DistributionView):
    """Attributions are keyed by their order."""

    permission = "distribution.view"
    column_list = [
        "order",
        "decided_at",
        "store",
        "sharer",
        "parent_sharer",
        "rule",
        "explanation",
    ]
    column_details_list = [
        "order",
        "decided_at",
        "store",
        "sharer",
        "parent_sharer",
        "link",
        "live_session_id",
        "rule",
        "explanation",
        "touches",
    ]
    column_labels = {
        "order": _l("Order"),
        "decided_at": _l("Decided"),
        "store": _l("Store"),
        "sharer": _l("Credited to"),
        "parent_sharer": _l("Second level"),
        "link": _l("Link"),
        "live_session_id": _l("Live session"),
        "rule": _l("Rule"),
        "explanation": _l("Why"),
        "touches": _l("Links opened before the order"),
    }
    column_formatters = {
        "order": _order,
        "store": _store_name,
        "sharer": _sharer,
        "parent_sharer": _sharer,
        "link": _link_code,
        "rule": choice_formatter(RULE_LABELS),
        "explanation": lambda v, c, m, n: explain(m),
        "touches": _touches,
    }
    column_choices = {"rule": list(RULE_LABELS.items())}
    column_filters = [
        StoreFilter(Attribution.store_id, _l("Store")),
        SharerFilter(Attribution.sharer_id, _l("Credited to")),
        "rule",
        "decided_at",
    ]
    column_sortable_list = [("order", "order_id"), "decided_at", "rule"]
    column_default_sort = ("order_id", True)

    def get_one(self, id):
        found = self.get_query().filter(Attribution.order_id == parse_pk(id)).one_or_none()
        if found is None:
            abort(404)
        return found

    def get_scoped(self, ids) -> list:
        wanted = {parse_pk(i) for i in ids}
        rows = self.get_query().filter(Attribution.order_id.in_(wanted)).all() if wanted else []
        if len(rows) != len(wanted):
            abort(404)
        return rows


# Commission rules ----------------------------------------------------------------------------


class DraftsOnly(BaseListRowAction):
    """A row action (edit, delete) shown only on draft rules: published ones never change."""

    def __init__(self, inner: BaseListRowAction):
        super().__init__(inner.title)
        self.inner = inner

    def render(self, context, row_id, row):
        return self.inner.render(context, row_id, row) if row.status == "draft" else ""


def _rule_value(view, context, model, name):
    value = getattr(model, name)
    if model.kind == "percent":
        return f"{hundredths(value)}%"
    currency = current_app.config["SHOP_CURRENCY"]
    return _("%(amount)s per unit", amount=format_money(value, currency))


def _applies_to(view, context, model, name):
    target = SCOPE_MODELS.get(model.scope)
    if target is None:
        return _("Everything")
    found = db.session.get(target, model.scope_id)
    named = found.sku if isinstance(found, Variant) else getattr(found, "name", None)
    return f"{named} (#{model.scope_id})" if named else f"#{model.scope_id}"


def _rule_tools(view, context, model, name):
    if model.status != "draft":
        return ""
    return Markup('<a href="{}">{}</a>').format(
        url_for("admin_rules.backtest_view", id=model.id), _("Back-test…")
    )


class PublishRule(ActionButton):
    """The draft's "Publish" button on its back-test page."""

    permission = "rules.publish"

    def run(self, rule):
        self.view._publish(rule.id)


class CommissionRuleView(ToolsListView):
    permission = "rules.view"
    edit_permission = "rules.edit"
    action_permission = "rules.publish"
    allow_delete = True
    audit_name = "commission_rule"
    list_intro = _l(
        "The most specific published rule wins: SKU > product > category > store > default. "
        "Without any published rule a sale earns 10% (level 1) and 5% (level 2). Published "
        "rules never change: make a draft, back-test it, then publish it; it replaces the rule "
        "of the same scope and target, and every commission line keeps the version it used."
    )
    tools = ((_l("Preview an order…"), ".preview_view", None),)
    publish_view = PublishRule.route("/publish/")
    column_list = [
        "scope",
        "applies_to",
        "kind",
        "level1_value",
        "level2_value",
        "status",
        "version",
        "note",
        "published_at",
        "tools",
    ]
    column_details_list = [
        "scope",
        "applies_to",
        "kind",
        "level1_value",
        "level2_value",
        "status",
        "version",
        "note",
        "created_at",
        "published_at",
        "tools",
    ]
    column_labels = {
        "scope": _l("Scope"),
        "scope_id": _l("Applies to (id)"),
        "applies_to": _l("Applies to"),
        "kind": _l("Kind"),
        "level1_value": _l("Level 1"),
        "level2_value": _l("Level 2"),
        "level1": _l("Level 1"),
        "level2": _l("Level 2"),
        "status": _l("Status"),
        "version": _l("Version"),
        "note": _l("Note"),
        "created_at": _l("Made"),
        "published_at": _l("Published"),
        "tools": "",
    }
    column_choices = {
        "scope": list(SCOPE_LABELS.items()),
        "kind": list(RULE_KIND_LABELS.items()),
        "status": list(RULE_STATUS_LABELS.items()),
    }
    column_formatters = {
        "applies_to": _applies_to,
        "level1_value": _rule_value,
        "level2_value": _rule_value,
        "tools": _rule_tools,
    }
    column_filters = ["status", "scope", "kind"]
    column_sortable_list = ["scope", "status", "version", "published_at"]
    column_default_sort = ("id", True)
    form_columns = ["scope", "scope_id", "kind", "level1", "level2", "note"]
    form_choices = {"scope": list(SCOPE_LABELS.items()), "kind": list(RULE_KIND_LABELS.items())}
    form_args = {
        "scope": {"default": "default"},
        "scope_id": {
            "validators": [InputRequired(), NumberRange(min=0, max=2_000_000_000)],
            "description": _l(
                "The id of the variant, product, category or store the rule applies to "
                "(shown in their lists); 0 for the default rule."
            ),
        },
        "note": {"validators": [Length(max=255)]},
    }
    form_extra_fields = {
        "level1": KindValueField(
            _l("Level 1"),
            description=_l(
                "What the sharer earns: a percentage such as 10 or 12.5, or an amount per unit "
                "such as 5.00."
            ),
        ),
        "level2": KindValueField(
            _l("Level 2"),
            description=_l("What the sharer's recruiter earns, in the same unit (0 for nothing)."),
        ),
    }

    def get_list_row_actions(self):
        return [
            DraftsOnly(a) if isinstance(a, EditRowAction | DeleteRowAction) else a
            for a in super().get_list_row_actions()
        ]

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if not form.level1.data:
            form.level1.data, form.level2.data = "10", "5"
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None and request.method == "GET":
            form.level1.show(obj.level1_value, obj.kind == "percent")
            form.level2.show(obj.level2_value, obj.kind == "percent")
        return form

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        rule = self.get_one(request.args.get("id"))
        if rule.status != "draft":
            flash(_("A published rule never changes: make a new draft instead."), "warning")
            return redirect(url_for(".details_view", id=rule.id))
        return super().edit_view()

    def on_model_change(self, form, model, is_created):
        if not is_created and model.status != "draft":
            raise ValidationError(_("A published rule never changes: make a new draft instead."))
        is_percent = model.kind == "percent"
        try:
            model.level1_value = form.level1.to_stored(is_percent)
            model.level2_value = form.level2.to_stored(is_percent)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if is_created:
            model.status = "draft"
        try:
            rules.validate(model)
        except commission.CommissionError as exc:
            raise ValidationError(exc.message) from None
        target = SCOPE_MODELS.get(model.scope)
        with db.session.no_autoflush:
            missing = target is not None and db.session.get(target, model.scope_id) is None
        if missing:
            raise ValidationError(
                _(
                    "No %(scope)s has the id %(id)s.",
                    scope=SCOPE_LABELS[model.scope],
                    id=model.scope_id,
                )
            )
        super().on_model_change(form, model, is_created)

    def on_model_delete(self, model):
        if model.status != "draft":
            raise ValidationError(_("Only a draft can be deleted."))
        super().on_model_delete(model)

    def _publish(self, rule_id: int) -> bool:
        try:
            rule = rules.publish(rule_id, current_staff())
        except commission.CommissionError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return False
        flash(
            _("Rule %(id)s is published as version %(version)s.", id=rule.id, version=rule.version),
            "success",
        )
        return True

    @action(
        "publish",
        _l("Publish"),
        _l("Publish the selected drafts? Each replaces the published rule of its scope."),
    )
    def action_publish(self, ids):
        for rule in self.get_scoped(ids):
            self._publish(rule.id)

    @expose("/backtest/")
    def backtest_view(self):
        """What the paid orders of the last N days earn now, and would with this draft."""
        rule = self.get_one(request.args.get("id"))
        text = (request.args.get("days") or "30").strip()
        days = int(text) if text.isdigit() and 1 <= int(text) <= 366 else 30
        try:
            result = rules.backtest(rule.id, days)
        except commission.CommissionError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".details_view", id=rule.id))
        form = IdForm()
        form.id.data = str(rule.id)
        return self.render(
            "admin/siyu/rule_backtest.html",
            rule=rule,
            result=result,
            rows=result.rows[:BACKTEST_ROWS_SHOWN],
            days=days,
            form=form,
            applies_to=_applies_to(self, None, rule, "scope_id"),
            level1=_rule_value(self, None, rule, "level1_value"),
            level2=_rule_value(self, None, rule, "level2_value"),
            scope_label=SCOPE_LABELS.get(rule.scope, rule.scope),
        )

    @expose("/preview/")
    def preview_view(self):
        """What each line of an order earns under the published rules, and why."""
        text = (request.args.get("order") or "").strip()
        order, attribution, rows = None, None, []
        if text:
            digits = text.upper().removeprefix("SY").lstrip("0")
            found = digits.isdigit() and len(digits) < 10
            order = db.session.get(Order, int(digits)) if found else None
            if order is None:
                flash(_("No order has the number %(n)s.", n=text), "error")
                order = None
            else:
                attribution = db.session.get(Attribution, order.id)
        if attribution is not None and attribution.sharer_id:
            for row in commission.preview(order, attribution):
                rate = row["rate"]
                rule = db.session.get(CommissionRule, rate.rule_id) if rate.rule_id else None
                rows.append(
                    {
                        **row,
                        "rule": rule,
                        "scope": SCOPE_LABELS.get(rate.scope, _("built-in default")),
                        "in_ledger": commission.line_net(row["line"].id, row["level"]),
                    }
                )
        return self.render(
            "admin/siyu/rule_preview.html",
            text=text,
            order=order,
            attribution=attribution,
            explanation=explain(attribution) if attribution is not None else "",
            rows=rows,
        )


# Commission ledger, balances, payouts --------------------------------------------------------


def _rule_version(view, context, model, name):
    if not model.rule_id:
        return _("built-in default") if model.kind == "accrue" else ""
    rule = db.session.get(CommissionRule, model.rule_id)
    return _("v%(version)s %(scope)s", version=rule.version, scope=SCOPE_LABELS[rule.scope])


def _entry_note(view, context, model, name):
    """Why the entry was written, in the reader's language, from the entry's own fields (the
    stored note was worded once, in the language of whoever caused it)."""
    if model.kind == "accrue" and model.rate_ppm is not None:
        return _("%(rate)s of the amount paid", rate=f"{model.rate_ppm / 10000:g}%")
    if model.kind == "accrue" and model.per_unit_x100 is not None:
        return _(
            "%(amount)s per unit",
            amount=format_money(round(model.per_unit_x100 / 100), model.currency),
        )
    if model.kind == "reverse" and model.refund_id:
        return _("Refund %(id)s", id=model.refund_id)
    if model.kind == "payout" and model.payout_id:
        return _("Payout %(id)s", id=model.payout_id)
    return model.note


class CommissionEntryView(DistributionView):
    """The append-only ledger: read only, exported as CSV."""

    permission = "commission.view"
    export_permission = "commission.export"
    can_view_details = False
    column_display_actions = False
    column_list = [
        "created_at",
        "sharer",
        "order",
        "level",
        "kind",
        "bucket",
        "amount",
        "rule",
        "note",
        "payout_id",
    ]
    column_export_list = [
        "created_at",
        "sharer",
        "store",
        "order",
        "level",
        "kind",
        "bucket",
        "amount",
        "currency",
        "rule",
        "note",
        "payout_id",
    ]
    column_labels = {
        "created_at": _l("When"),
        "sharer": _l("Sharer"),
        "store": _l("Store"),
        "order": _l("Order"),
        "level": _l("Level"),
        "kind": _l("Entry"),
        "bucket": _l("Bucket"),
        "amount": _l("Amount"),
        "currency": _l("Currency"),
        "rule": _l("Rule"),
        "note": _l("Note"),
        "payout_id": _l("Payout"),
    }
    column_choices = {
        "kind": list(ENTRY_KIND_LABELS.items()),
        "bucket": list(BUCKET_LABELS.items()),
    }
    column_formatters = {
        "sharer": _sharer,
        "order": _order,
        "amount": money_formatter("currency"),
        "rule": _rule_version,
        "note": _entry_note,
    }
    column_formatters_export = {
        "sharer": _name,
        "store": _sharer_store,
        "order": _order_number,
        "amount": _plain_amount,
        "rule": _rule_version,
        "note": _entry_note,
    }
    column_filters = [
        SharerFilter(CommissionEntry.sharer_id, _l("Sharer")),
        "kind",
        "bucket",
        "level",
        "created_at",
    ]
    column_sortable_list = ["created_at", "kind", "bucket", "amount"]
    column_default_sort = ("id", True)
    tools = ((_l("Balances and payouts…"), "admin_balances.index", None),)


class ApprovePayout(ActionButton):
    """A sharer's "Approve payout" button: ``commission.approve_payout`` pays the settled
    balance (and audits it)."""

    permission = "payouts.approve"

    def load(self, form):
        sharer = db.session.scalar(scoped_sharers().where(Sharer.id == parse_pk(form.id.data)))
        if sharer is None:
            abort(404)
        return sharer

    def run(self, sharer):
        payout = commission.approve_payout(
            sharer.id, current_staff(), current_app.config["SHOP_CURRENCY"]
        )
        flash(
            _(
                "Payout of %(amount)s to %(name)s approved.",
                amount=format_money(payout.amount, payout.currency),
                name=sharer.name,
            ),
            "success",
        )

    def back_url(self, sharer):
        return url_for(".index")

    def expired_url(self):
        return url_for(".index")


class BalancesView(SecuredView, BaseView):
    """Each sharer's pending, settled and paid commission (``commission.balances``), with
    "approve payout" for finance: ``commission.approve_payout`` pays the settled balance."""

    permission = "commission.view"
    page_size = 50
    approve = ApprovePayout.route("/approve/")

    @expose("/")
    def index(self):
        text = request.args.get("page", "1")
        page = int(text) if text.isdigit() and 0 < len(text) < 7 else 1
        stmt = scoped_sharers().where(
            Sharer.id.in_(select(CommissionEntry.sharer_id).correlate(None))
        )
        total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
        sharers = db.session.scalars(
            stmt.order_by(Sharer.name, Sharer.id)
            .offset((page - 1) * self.page_size)
            .limit(self.page_size)
        ).all()
        rows = []
        for sharer in sharers:
            form = IdForm()
            form.id.data = str(sharer.id)
            rows.append((sharer, commission.balances(sharer.id), form))
        return self.render(
            "admin/siyu/balances.html",
            rows=rows,
            page=page,
            pages=max(1, -(-total // self.page_size)),
            page_url=lambda p: url_for(".index", page=p + 1),
            may_pay=may("payouts.approve"),
        )


def _payee_phone(view, context, model, name):
    """The sharer's phone in the payout export: in full for the roles that pay them out
    (``payouts.phones``), masked for the others."""
    phone = model.sharer.phone if model.sharer is not None else ""
    return phone if may("payouts.phones") else mask_phone(phone)


class PayoutView(DistributionView):
    permission = "commission.view"
    export_permission = "commission.export"
    can_view_details = False
    column_display_actions = False
    column_list = ["created_at", "sharer", "store", "amount", "status", "approved_by"]
    column_export_list = [
        "sharer_id",
        "sharer",
        "phone",
        "amount",
        "currency",
        "created_at",
        "approved_by",
    ]
    column_labels = {
        "created_at": _l("Date"),
        "sharer_id": _l("Sharer id"),
        "sharer": _l("Sharer"),
        "phone": _l("Phone"),
        "store": _l("Store"),
        "amount": _l("Amount"),
        "currency": _l("Currency"),
        "status": _l("Status"),
        "approved_by": _l("Approved by"),
    }
    column_choices = {"status": [("approved", _l("Approved"))]}
    column_formatters = {
        "sharer": _sharer,
        "store": _sharer_store,
        "amount": money_formatter("currency"),
        "approved_by": lambda v, c, m, n: _approver(m),
    }
    column_formatters_export = {
        "sharer": _name,
        "phone": _payee_phone,
        "amount": _plain_amount,
        "approved_by": lambda v, c, m, n: _approver(m),
    }
    column_filters = [SharerFilter(Payout.sharer_id, _l("Sharer")), "created_at"]
    column_sortable_list = ["created_at", "amount"]
    column_default_sort = ("id", True)
    tools = ((_l("Balances and payouts…"), "admin_balances.index", None),)


def _approver(payout: Payout) -> str:
    staff = db.session.get(Staff, payout.approved_by) if payout.approved_by else None
    return str(staff) if staff else ""


# Acquisition costs ---------------------------------------------------------------------------


class AcquisitionCostView(StaffModelView):
    """What winning a customer cost, entered in major units; lifetime value subtracts it."""

    permission = "acquisition.edit"
    edit_permission = "acquisition.edit"
    allow_delete = True
    can_view_details = False
    audit_name = "acquisition_cost"
    column_list = ["customer", "amount", "note", "created_at"]
    column_labels = {
        "customer": _l("Customer"),
        "amount": _l("Cost"),
        "note": _l("Note"),
        "created_at": _l("Entered"),
    }
    column_formatters = {"customer": customer_formatter, "amount": money_formatter("currency")}
    column_default_sort = ("id", True)
    form_columns = ["customer", "amount", "note"]
    form_overrides = {"amount": MoneyField}
    form_args = {
        "amount": {
            "validators": [InputRequired()],
            "description": _l("What it cost to win this customer, such as 60.00."),
        },
        "note": {"validators": [Length(max=255)]},
    }
    form_ajax_refs = {"customer": {"fields": ("name", "phone"), "page_size": 10}}

    def on_model_change(self, form, model, is_created):
        if model.customer is None:
            raise ValidationError(_("Choose the customer."))
        if model.amount is None:
            raise ValidationError(_("Enter the cost."))
        with db.session.no_autoflush:
            taken = db.session.scalar(
                select(AcquisitionCost.id).where(
                    AcquisitionCost.customer_id == model.customer.id,
                    AcquisitionCost.id != (model.id or 0),
                )
            )
        if taken:
            raise ValidationError(_("This customer already has a cost: change that one instead."))
        if is_created:
            model.currency = current_app.config["SHOP_CURRENCY"]
        model.note = model.note or ""
        super().on_model_change(form, model, is_created)


# Numbers -------------------------------------------------------------------------------------


GROUP_LABELS = {"store": _l("By store"), "sharer": _l("By guide"), "channel": _l("By channel")}
GROUP_HEADERS = {"store": _l("Store"), "sharer": _l("Guide or promoter"), "channel": _l("Channel")}


def _day(text: str | None) -> date | None:
    """A YYYY-MM-DD date typed in the page, or None when empty or not a date."""
    try:
        return date.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


class NumbersView(SecuredView, BaseView):
    """``numbers.dashboard`` by store, guide or channel over a range of days (UTC), limited to
    a manager's stores."""

    permission = "numbers.view"

    @expose("/")
    def index(self):
        group = request.args.get("by", "store")
        if group not in numbers.GROUPS:
            group = "store"
        typed = {key: request.args.get(key) for key in ("since", "until")}
        until = _day(typed["until"]) or utcnow().date()
        since = _day(typed["since"]) or until - timedelta(days=29)
        if any(text and _day(text) is None for text in typed.values()):
            flash(_("Dates look like 2026-01-31."), "warning")
        if since > until:
            since, until = until, since
        rows = numbers.dashboard(
            group,
            datetime.combine(since, time.min),
            datetime.combine(until + timedelta(days=1), time.min),
            store_ids=store_scope(),
        )
        if group == "channel":
            for row in rows:
                row.label = str(CHANNEL_LABELS.get(row.key, row.key or "—"))
        return self.render(
            "admin/siyu/numbers.html",
            rows=rows,
            group=group,
            groups=GROUP_LABELS,
            header=GROUP_HEADERS[group],
            since=since,
            until=until,
            currency=current_app.config["SHOP_CURRENCY"],
            percent=percent,
        )


def percent(value: float | None) -> str:
    """A display ratio as a percentage with one decimal (not money)."""
    return "—" if value is None else f"{value * 100:.1f}%"
