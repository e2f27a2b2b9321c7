"""Staff admin panel (Flask-Admin) at /admin/.

``init_admin(app)`` builds a fresh ``Admin`` for each app (``create_app`` runs many times in
the tests; a module-level ``Admin`` would keep the first app's blueprints). Every view has an
explicit endpoint and URL: Flask-Admin would otherwise name blueprints after models, and names
like "shop" are taken.

Where to look: ``permissions`` (the role table and store scoping), ``base`` (the one base view:
sign-in, roles, scoping, CSRF, audit), ``auth`` (sign-in at /admin/login, rate-limited),
``dashboard`` (the home page), ``outbox`` (the work changes set in motion, and retrying
it), ``kit`` (the small kit every view shares: forms, fields, formatters, times, custom pages),
then one package per domain:

- ``shop``: ``catalog`` (stores, categories, products, variants, images, stock), ``orders`` (the
  order page's actions and refunds), ``payments`` (refunds and payments), ``people`` (customers,
  reviews, staff, the audit log);
- ``members``: ``settings`` (loyalty), ``tiers``, ``coupons``, ``points`` (ledger and shop);
- ``live``: ``sessions`` (sessions with their report and CSV, shelves, live settings);
- ``distribution``: ``programme``, ``sharers`` (guides, promoters, levels), ``tracking`` (links,
  visits, bindings, attributions), ``rules``, ``ledger`` (commission, balances, payouts,
  acquisition costs), ``numbers``.
"""

from __future__ import annotations

import os

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from admin.api import ApiKeyView, WebhookAttemptView, WebhookDeliveryView, WebhookEndpointView
from admin.dashboard import DashboardView
from admin.distribution.ledger import (
    AcquisitionCostView,
    BalancesView,
    CommissionEntryView,
    PayoutView,
)
from admin.distribution.numbers import NumbersView
from admin.distribution.programme import ProgrammeSettingsView
from admin.distribution.rules import CommissionRuleView
from admin.distribution.sharers import SharerLevelView, SharerView
from admin.distribution.tracking import AttributionView, BindingView, ShareLinkView, VisitView
from admin.kit.lookup import LookupView
from admin.kit.times import admin_time
from admin.kit.wording import reword_flask_admin
from admin.live.room import BannedWordView
from admin.live.sessions import LiveSessionView, LiveSettingsView, LiveTipView, ShelfItemView
from admin.members.coupons import CouponTemplateView, CouponView
from admin.members.points import PointsEntryView, PointsShopItemView
from admin.members.settings import LoyaltySettingsView
from admin.members.tiers import MemberTierView
from admin.outbox import OutboxEventView
from admin.shop.catalog import (
    CategoryView,
    ProductImageView,
    ProductView,
    StockMovementView,
    StoreView,
    VariantView,
)
from admin.shop.orders import OrderView
from admin.shop.payments import PaymentView, RefundView
from admin.shop.people import AuditLogView, CustomerView, ReviewView, StaffView
from admin.shop.pickup import PickupView
from distribution.models import (
    AcquisitionCost,
    Attribution,
    Binding,
    CommissionEntry,
    CommissionRule,
    DistributionSettings,
    Payout,
    ShareLink,
    Sharer,
    SharerLevel,
    Visit,
)
from live.models import LiveSession, LiveSettings, LiveTip, ShelfItem
from live.room_models import BannedWord
from shop.api.models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from shop.catalog.models import (
    Category,
    Product,
    ProductImage,
    Review,
    StockMovement,
    Store,
    Variant,
)
from shop.customers.models import Customer
from shop.extensions import csrf
from shop.infra.outbox import OutboxEvent
from shop.members.models import (
    Coupon,
    CouponTemplate,
    LoyaltySettings,
    MemberTier,
    PointsEntry,
    PointsShopItem,
)
from shop.orders.models import Order, Refund
from shop.payments.models import Payment
from shop.staff.models import AuditLog, Staff

TRANSLATIONS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "translations"
)


def init_admin(app) -> Admin:
    """Build a fresh Admin for this app."""
    admin = Admin(
        app,
        name=app.config.get("SHOP_NAME", "Siyu"),
        url="/admin",
        index_view=DashboardView(name=_l("Dashboard"), endpoint="admin", url="/admin"),
        # translations/*/LC_MESSAGES/admin.po: what Flask-Admin's own Chinese catalogue lacks
        # ("Failed to save record."); where both have a string, Flask-Admin's is used.
        translations_path=TRANSLATIONS,
        theme=Bootstrap4Theme(
            base_template="admin/siyu/base.html",
            swatch=app.config["FLASK_ADMIN_SWATCH"],
            # The page spans the window: lists get their width, and at 1280 px the grouped
            # menu, the time zone and the staff member fit on one line.
            fluid=True,
        ),
    )
    catalog, sales, people = _l("Catalog"), _l("Sales"), _l("People")
    dist, money, members = _l("Distribution"), _l("Commission"), _l("Members")
    system = _l("System")
    live = _l("Live")
    views = [
        # view, model, menu name, endpoint, url (under /admin/), menu category
        (OrderView, Order, _l("Orders"), "admin_orders", "orders", sales),
        (RefundView, Refund, _l("Refunds"), "admin_refunds", "refunds", sales),
        (PaymentView, Payment, _l("Payments"), "admin_payments", "payments", sales),
        (ProductView, Product, _l("Products"), "admin_products", "products", catalog),
        (VariantView, Variant, _l("Variants"), "admin_variants", "variants", catalog),
        (ProductImageView, ProductImage, _l("Product images"), "admin_images", "images", catalog),
        (StockMovementView, StockMovement, _l("Stock movements"), "admin_stock", "stock", catalog),
        (CategoryView, Category, _l("Categories"), "admin_categories", "categories", catalog),
        (StoreView, Store, _l("Stores"), "admin_stores", "stores", people),
        (CustomerView, Customer, _l("Customers"), "admin_customers", "customers", people),
        (ReviewView, Review, _l("Reviews"), "admin_reviews", "reviews", people),
        (StaffView, Staff, _l("Staff"), "admin_staff", "staff", people),
        (SharerView, Sharer, _l("Guides and promoters"), "admin_sharers", "sharers", dist),
        (SharerLevelView, SharerLevel, _l("Levels"), "admin_levels", "levels", dist),
        (ShareLinkView, ShareLink, _l("Share links"), "admin_links", "links", dist),
        (VisitView, Visit, _l("Visits"), "admin_visits", "visits", dist),
        (BindingView, Binding, _l("Bindings"), "admin_bindings", "bindings", dist),
        (
            AttributionView,
            Attribution,
            _l("Attributions"),
            "admin_attribution",
            "attribution",
            dist,
        ),
        (
            ProgrammeSettingsView,
            DistributionSettings,
            _l("Settings"),
            "admin_programme",
            "programme",
            dist,
        ),
        (CommissionRuleView, CommissionRule, _l("Commission rules"), "admin_rules", "rules", money),
        (
            CommissionEntryView,
            CommissionEntry,
            _l("Ledger"),
            "admin_commission",
            "commission",
            money,
        ),
        (PayoutView, Payout, _l("Payouts"), "admin_payouts", "payouts", money),
        (
            AcquisitionCostView,
            AcquisitionCost,
            _l("Acquisition costs"),
            "admin_acquisition",
            "acquisition",
            money,
        ),
        (MemberTierView, MemberTier, _l("Member tiers"), "admin_tiers", "tiers", members),
        (
            CouponTemplateView,
            CouponTemplate,
            _l("Coupon templates"),
            "admin_templates",
            "templates",
            members,
        ),
        (CouponView, Coupon, _l("Issued coupons"), "admin_coupons", "coupons", members),
        (PointsEntryView, PointsEntry, _l("Points ledger"), "admin_points", "points", members),
        (
            PointsShopItemView,
            PointsShopItem,
            _l("Points shop"),
            "admin_points_shop",
            "points-shop",
            members,
        ),
        (
            LoyaltySettingsView,
            LoyaltySettings,
            _l("Loyalty settings"),
            "admin_loyalty",
            "loyalty",
            members,
        ),
        (LiveSessionView, LiveSession, _l("Live sessions"), "admin_live", "live", live),
        (ShelfItemView, ShelfItem, _l("Shelves"), "admin_shelves", "live-shelves", live),
        (LiveTipView, LiveTip, _l("Tips"), "admin_live_tips", "live-tips", live),
        (
            LiveSettingsView,
            LiveSettings,
            _l("Live settings"),
            "admin_live_settings",
            "live-settings",
            live,
        ),
        (
            BannedWordView,
            BannedWord,
            _l("Banned words (live comments)"),
            "admin_live_banned_words",
            "live-banned-words",
            live,
        ),
        (AuditLogView, AuditLog, _l("Audit log"), "admin_audit", "audit", system),
    ]
    for view_class, model, name, endpoint, url, category in views:
        admin.add_view(view_class(model, name=name, endpoint=endpoint, url=url, category=category))
    # Pages that are not lists of a model: each sharer's balances, and the numbers.
    admin.add_view(BalancesView(_l("Balances"), money, endpoint="admin_balances", url="balances"))
    admin.add_view(NumbersView(_l("Numbers"), dist, endpoint="admin_numbers", url="numbers"))
    admin.add_view(PickupView(_l("Pick-up code"), sales, endpoint="admin_pickup", url="pickup"))
    admin.add_view(
        OutboxEventView(
            OutboxEvent, name=_l("Outbox"), endpoint="admin_outbox", url="outbox", category=system
        )
    )
    admin.add_view(LookupView(endpoint="admin_lookup", url="lookup"))
    for view_class, model, name, endpoint, url in (
        (ApiKeyView, ApiKey, _l("API keys"), "admin_api_keys", "api-keys"),
        (WebhookEndpointView, WebhookEndpoint, _l("Webhooks"), "admin_webhooks", "webhooks"),
        (
            WebhookDeliveryView,
            WebhookDelivery,
            _l("Deliveries"),
            "admin_webhook_deliveries",
            "webhook-deliveries",
        ),
        (
            WebhookAttemptView,
            WebhookAttempt,
            _l("Delivery attempts"),
            "admin_webhook_attempts",
            "webhook-attempts",
        ),
    ):
        admin.add_view(view_class(model, name=name, endpoint=endpoint, url=url, category=system))
    for view in admin._views:
        # Admin forms carry their own session-bound token (SecureForm); see admin.kit.forms.
        csrf.exempt(view.blueprint)
    app.jinja_env.filters["admin_time"] = admin_time
    reword_flask_admin(app)
    return admin
