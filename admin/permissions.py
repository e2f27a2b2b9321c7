"""Who may do what in the admin panel, and which rows a store manager sees.

=================  =====  =======================  =======  =======
permission         owner  manager (own stores)     finance  support
=================  =====  =======================  =======  =======
dashboard          yes    yes (own stores)         yes      yes
stores.view        yes    yes (own stores)
stores.edit        yes
categories.edit    yes
catalog.view       yes    yes (own stores)         yes      yes
catalog.edit       yes    yes (own stores)
stock.view         yes    yes (own stores)         yes
stock.adjust       yes    yes (own stores)
orders.view        yes    yes (own stores)         yes      yes
orders.export      yes    yes (own stores)         yes
orders.mark_paid   yes    yes (own stores)         yes
orders.fulfil      yes    yes (own stores)
orders.cancel      yes    yes (own stores)
orders.refund      yes    yes (own stores)         yes
payments.view      yes    yes (own stores)         yes
customers.view     yes    yes (who ordered there)           yes
phones.full        yes                                      yes
reviews.moderate   yes    yes (own stores)                  yes
staff.manage       yes
audit.view         yes                             yes
distribution.view  yes    yes (own stores)
programme.edit     yes
sharers.manage     yes    yes (own stores)
sharers.edit       yes
rules.view         yes                             yes
rules.edit         yes                             yes
rules.publish      yes                             yes
commission.view    yes    yes (own stores)         yes
commission.export  yes    yes (own stores)         yes
payouts.approve    yes                             yes
payouts.phones     yes                             yes
acquisition.edit   yes                             yes
numbers.view       yes    yes (own stores)         yes
live.view          yes    yes (own stores)         yes
live.edit          yes    yes (own stores)
live.settings      yes
members.view       yes                             yes
members.edit       yes
coupons.view       yes                             yes      yes
coupons.grant      yes
points.view        yes                             yes      yes
points.adjust      yes                             yes
outbox.view        yes
outbox.retry       yes
api.manage         yes
=================  =====  =======================  =======  =======

``programme.edit`` is the distribution programme's settings. What each distribution and members
permission opens is described in ``admin.distribution`` and ``admin.members``.

Store guides (role ``guide``) have no admin access: their workbench is /guide, and the admin
sign-in refuses them.

``payouts.phones`` shows sharers' full phone numbers in the payout export, for paying them;
elsewhere the roles without ``phones.full`` see them masked.

``orders.fulfil`` covers shipping, marking picked up and completing. Without ``phones.full``,
customers' phone numbers are masked (138****1234) in every list, detail page and export.
Categories are shared by all stores: managers read them, only owners change them. A manager sees
a product, variant, image, stock movement or review only when the product belongs to one of
their stores (head-office products, with no store, are the owner's), and an order, payment or
refund only when the order's store is one of theirs.
"""

from __future__ import annotations

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import or_, select

from shop.catalog.models import Product, ProductImage, Review, StockMovement, Store, Variant
from shop.customers.models import Customer
from shop.orders.models import Order, Refund
from shop.payments.models import Payment
from shop.staff.models import Role, Staff

# Permissions come in named groups, each listed once; a role is the union of its groups.
#: what every admin role reads
SHOP_AT_A_GLANCE = frozenset({"dashboard", "catalog.view", "orders.view"})
#: taking and giving back money for orders (managers and finance)
ORDER_MONEY = frozenset(
    {"stock.view", "orders.export", "orders.mark_paid", "orders.refund", "payments.view"}
)
#: commission figures (managers and finance)
COMMISSION_FIGURES = frozenset({"commission.view", "commission.export", "numbers.view"})
#: customers and their reviews (managers and support)
CUSTOMER_CARE = frozenset({"customers.view", "reviews.moderate"})
#: coupons and points, read only (finance and support)
MEMBER_LEDGERS = frozenset({"coupons.view", "points.view"})
#: live sessions' reports (managers and finance)
LIVE_FIGURES = frozenset({"live.view"})
#: running a store day to day (managers)
STORE_FLOOR = frozenset(
    {
        "live.edit",
        "stores.view",
        "catalog.edit",
        "stock.adjust",
        "orders.fulfil",
        "orders.cancel",
        "distribution.view",
        "sharers.manage",
    }
)
#: rules, payouts (and whom to pay), costs, points corrections and the audit log (finance)
FINANCE_DESK = frozenset(
    {
        "audit.view",
        "rules.view",
        "rules.edit",
        "rules.publish",
        "payouts.approve",
        "payouts.phones",
        "acquisition.edit",
        "members.view",
        "points.adjust",
    }
)
#: customers' full phone numbers (support)
FULL_PHONES = frozenset({"phones.full"})
#: what only the owner does: the shop's structure, staff, programme and membership settings
HEAD_OFFICE = frozenset(
    {
        "stores.edit",
        "categories.edit",
        "staff.manage",
        "programme.edit",
        "sharers.edit",
        "members.edit",
        "coupons.grant",
        "outbox.view",
        "outbox.retry",
        "live.settings",
        "api.manage",
    }
)

#: each role but the owner's, as its groups
ROLE_GROUPS = {
    Role.MANAGER: (
        SHOP_AT_A_GLANCE,
        ORDER_MONEY,
        COMMISSION_FIGURES,
        LIVE_FIGURES,
        CUSTOMER_CARE,
        STORE_FLOOR,
    ),
    Role.FINANCE: (
        SHOP_AT_A_GLANCE,
        ORDER_MONEY,
        COMMISSION_FIGURES,
        LIVE_FIGURES,
        MEMBER_LEDGERS,
        FINANCE_DESK,
    ),
    Role.SUPPORT: (SHOP_AT_A_GLANCE, CUSTOMER_CARE, MEMBER_LEDGERS, FULL_PHONES),
}
ALL = HEAD_OFFICE.union(*(group for groups in ROLE_GROUPS.values() for group in groups))

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: ALL,
    **{role: frozenset().union(*groups) for role, groups in ROLE_GROUPS.items()},
}

STORE_SCOPED_ROLES = frozenset({Role.MANAGER})

ROLE_LABELS = Role.labels()


def current_staff() -> Staff | None:
    """The signed-in, active staff member of this request, or None."""
    if not has_request_context():
        return None
    if not current_user.is_authenticated or not current_user.is_active:
        return None
    return current_user._get_current_object()


def may(permission: str) -> bool:
    staff = current_staff()
    return staff is not None and permission in ROLE_PERMISSIONS.get(staff.role, frozenset())


def store_scope() -> list[int] | None:
    """The store ids the signed-in staff member is limited to; None when not limited."""
    staff = current_staff()
    if staff is None:
        return []
    if staff.role in STORE_SCOPED_ROLES:
        return staff.store_ids
    return None


def _products_of(store_ids: list[int]):
    return select(Product.id).where(Product.store_id.in_(store_ids))


def _orders_of(store_ids: list[int]):
    return select(Order.id).where(Order.store_id.in_(store_ids))


def store_clause(model, store_ids: list[int]):
    """The SQL condition limiting ``model`` rows to ``store_ids``; None for shared data."""
    if model is Store:
        return Store.id.in_(store_ids)
    if model in (Product, Order):
        return model.store_id.in_(store_ids)
    if model in (Variant, ProductImage, Review):
        return model.product_id.in_(_products_of(store_ids))
    if model is StockMovement:
        # Movements of their orders (whoever's product it is) and of their products.
        return or_(
            StockMovement.order_id.in_(_orders_of(store_ids)),
            StockMovement.variant_id.in_(
                select(Variant.id).where(Variant.product_id.in_(_products_of(store_ids)))
            ),
        )
    if model in (Refund, Payment):
        return model.order_id.in_(_orders_of(store_ids))
    if model is Customer:
        return Customer.id.in_(select(Order.customer_id).where(Order.store_id.in_(store_ids)))
    return None


def store_of(obj) -> int | None:
    """The store an object belongs to, for checking a change a manager makes."""
    if isinstance(obj, Store):
        return obj.id
    if isinstance(obj, Product | Order):
        return obj.store_id
    if isinstance(obj, Variant | ProductImage | Review):
        return obj.product.store_id if obj.product is not None else None
    return None
