"""The commission ledger under random traffic: a hypothesis state machine.

Random visits (share links of guide Li Na, of her promoter Zhao Lei, of guide Wang Fang of
another store), orders of 1-3 lines (with or without the visitor cookie, some with a coupon),
payments at the store and through the signed Stripe webhook, partial and full refunds with and
without restock (and full ones made in Stripe's dashboard), hand-overs, expiries, settlements
on a moving clock, payouts, a new version of a commission rule, and replays of every webhook
and job; and the outbox's bad days: Redis down (the work a payment or refund owes stays
pending) and back (the sweep delivers it), a handler failing before or after its work (backoff,
giving up, staff retrying), a worker killed mid-job (the lease runs out, the sweep delivers
again), and ``ledger reconcile`` while work is owed. A plain-Python model predicts who is
credited (first-sharer-protected, 15 days protection, 30 days validity, no self-purchase), what
each line earns at each level and where the money sits, and what the outbox owes and has
delivered; after every step the database must agree with it and with itself:

- commission entries are never edited or deleted (every row seen is still there, unchanged);
- each sharer's ``balances()`` equal the sum of their entries per bucket, and the model's;
- each line's commission at each level is its rate × (paid − refunded), for the earner the
  model expects, with the rate of the rule in force when it was paid (see ``_accrual``);
- a replayed webhook, signal or job changes nothing in any table;
- the outbox holds exactly the events the model expects, each in the state, with the attempts
  and the availability it expects (nothing lost, nothing delivered twice), and each effect
  (accruals, reversals, points) exists once if and only if the model says it was delivered;
- every ledger check (``shop.hooks``) and ``flask ledger verify`` find nothing once no work is
  owed; while some is (pending or failed), exactly the decisions and reversals still missing;
- stock matches the model, is never negative, and equals the sum of its movements.

Time moves by ageing every timestamp the shop and the attribution read (orders, visits,
bindings, attributions, the rules' publication) while the ledger's own rows stay untouched.
"""

from __future__ import annotations

import functools
import math
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import case, func, select, update
from werkzeug.security import generate_password_hash

from distribution import jobs
from distribution.commission import (
    CommissionError,
    approve_payout,
    balances,
    settle_due_commissions,
    verify_ledger,
)
from distribution.models import (
    Attribution,
    Binding,
    CommissionEntry,
    CommissionRule,
    Sharer,
    SharerLevel,
    Visit,
)
from distribution.sharing import link_for, open_link
from shop.catalog import stock
from shop.catalog.models import Variant
from shop.checkout.services import CheckoutDetails, place_order
from shop.customers.models import Customer
from shop.demo.factories import make_category, make_product, make_store
from shop.errors import InvalidInput, InvalidTransition, OutOfStock
from shop.extensions import db
from shop.hooks import hooks
from shop.infra import outbox, queue
from shop.infra.clock import utcnow
from shop.infra.outbox import OutboxEvent, OutboxStatus
from shop.infra.unit_of_work import unit_of_work
from shop.members import coupons
from shop.members.models import CouponTemplate, PointsEntry
from shop.orders import services as orders
from shop.orders.models import Order, OrderLine, OrderStatus, Refund
from shop.orders.topics import OrderTopic
from shop.payments import services as payments
from shop.signals import order_paid, order_refunded
from shop.staff.models import Role, Staff
from tests.support.fakestripe import deliver, event
from tests.support.shop import refund_now

S = OrderStatus
WINDOW = timedelta(days=7)  # return window before commission settles
PROTECTION = timedelta(days=15)
VALIDITY = timedelta(days=30)
STORE_HOLD = timedelta(hours=48)
STRIPE_HOLD = timedelta(minutes=30, seconds=30)  # Stripe's minimum session, which wins
SHIPPING_FEE, FREE_SHIPPING_FROM = 1000, 9900
PERCENT_COUPON, FIXED_COUPON = 700, 500  # 7% off (basis points); 5.00 off (minor units)
# Short steps more often than long ones, so bindings and unsettled lines live long enough.
CLOCK_STEPS = [timedelta(hours=h) for h in (1, 24, 24, 48, 72, 144, 168, 192, 360, 744)]
REFUNDABLE = {S.PAID, S.FULFILLED, S.PICKED_UP, S.COMPLETED}
# Products: price and stock (their commission rules are published in ``_build_world``).
PRODUCTS = {"tea": (9900, 15), "cup": (1999, 40), "sample": (333, 60)}
# Customers: phone numbers; "zhao" and "li" are the promoter's and the guide's own phones.
CUSTOMERS = {
    "chen": "13800000001",
    "wu": "13800000002",
    "sun": "13800000003",
    "zhao": "13900001111",
    "li": "13700002222",
}
SHARERS = ("li", "zhao", "wang")  # guide Li Na; promoter Zhao Lei (parent Li Na); guide Wang Fang
SELF = {("zhao", "zhao"), ("li", "li")}  # (sharer, customer) pairs that are self-purchases


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


@functools.cache
def password_hash() -> str:
    return generate_password_hash("guide-password-1")


@dataclass(frozen=True)
class Rate:
    """The model's rate: percent values in basis points, fixed in minor units per unit."""

    kind: str
    value: int
    multiplier: int

    def earn(self, paid: int, units: int) -> int:
        if self.kind == "percent":
            return half_up(Fraction(paid * self.value * self.multiplier, 10_000 * 100))
        return half_up(Fraction(self.value * self.multiplier * units, 100))


@dataclass
class Line:
    id: int
    product: str
    quantity: int
    paid: int
    refunded_quantity: int = 0
    refunded_amount: int = 0
    money_only: int = 0  # refunded in the Stripe dashboard, items kept


@dataclass
class OrderModel:
    id: int
    method: str
    fulfilment: str
    created: timedelta
    lines: list[Line]
    total: int
    earners: list[tuple[int, str]]
    store_id: int | None
    status: str = S.AWAITING_PAYMENT
    paid: timedelta | None = None
    refunded: int = 0
    needs_review: bool = False
    session_id: str | None = None
    events: list[dict] = field(default_factory=list)
    accrued: bool = False  # its accrual was delivered (whatever it wrote)
    rules: dict = field(default_factory=dict)  # the rules in force when it was paid
    points: bool = False  # its points were credited

    def earns_points(self) -> bool:
        # One point per currency unit paid (the shop's default rule; no tiers here).
        return sum(line.paid for line in self.lines) // 100 > 0

    @property
    def hold(self) -> timedelta:
        return STRIPE_HOLD if self.method == "stripe" else STORE_HOLD


@dataclass
class Earning:
    order: OrderModel
    line: Line
    level: int
    sharer: str
    rate: Rate
    written: int = 0  # what the ledger holds for it: net() when it was last written
    settled: bool = False

    def net(self) -> int:
        line = self.line
        kept = line.paid - line.refunded_amount
        if self.rate.kind == "fixed" and line.money_only:
            # Part of the money went back without the items: the kept share of every unit.
            return half_up(Fraction(self.rate.earn(kept, line.quantity) * kept, line.paid))
        return self.rate.earn(kept, line.quantity - line.refunded_quantity)


class WorkerKilled(BaseException):  # noqa: N818 (what happens, not an error anyone handles)
    """The worker process dies mid-job: nothing after this point of ``deliver`` runs."""


@dataclass
class Outage:
    """What goes wrong around the outbox, set by the machine's steps and read at two seams of
    ``shop.infra.queue`` (patched for the test): ``enqueue`` (the hand-over to RQ; with Redis
    down it raises as a client that cannot connect does; ``outbox.dispatch`` keeps the event
    pending) and ``resolve`` (how ``deliver`` finds a handler; a failure or a kill is injected
    around the handler, so ``deliver``'s own claim, rollback, backoff and "done" are what
    run)."""

    redis_down: bool = False
    failures: dict[str, list[str]] = field(default_factory=dict)  # handler -> phases to fail
    kill: tuple[str, tuple, str] | None = None  # (handler, args, phase) of the next kill

    def enqueue(self, real):
        def enqueue(path, *args, **options):
            if self.redis_down:
                raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Refused.")
            return real(path, *args, **options)

        return enqueue

    def resolve(self, real):
        def resolve(path):
            handler = real(path)
            if path in ("shop.infra.outbox.deliver", "shop.infra.outbox.deliver_each"):
                return handler

            def run(*args):
                # "before": raise with nothing done; "after": the handler's work committed,
                # then the raise (its "done" never written).
                if self.kill is not None and self.kill[:2] == (path, args):
                    phase, self.kill = self.kill[2], None
                    if phase == "after":
                        handler(*args)
                        db.session.commit()
                    raise WorkerKilled(path)
                phases = self.failures.get(path)
                if phases:
                    phase = phases.pop(0)
                    if phase == "after":
                        handler(*args)
                        db.session.commit()
                    raise RuntimeError(f"{path}{args!r} failed (injected, {phase} its work)")
                return handler(*args)

            return run

        return resolve


OUTAGE = Outage()
MAX_ATTEMPTS = 2  # OUTBOX_MAX_ATTEMPTS here: low, so that giving up (and a retry) happens
OUTBOX_TOPICS = (OrderTopic.PAID, OrderTopic.REFUNDED)


@dataclass
class EventModel:
    """One outbox event the model expects: one handler's work for one publication."""

    topic: str
    handler: str
    args: tuple
    status: str = OutboxStatus.PENDING
    attempts: int = 0
    due: bool = True  # available now (not backing off, not leased)

    @property
    def key(self) -> str:
        return f"{self.topic}:{self.handler}:{':'.join(str(a) for a in self.args)}"


@dataclass
class BindingModel:
    sharer: str
    touched: timedelta
    adopted: bool  # the binding row carries the customer id (not only the visitor cookie)


def reset_database() -> None:
    """Empty every table, children first: far cheaper than dropping and creating the schema."""
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def entry_rows() -> dict[int, tuple]:
    e = CommissionEntry
    rows = db.session.execute(
        select(
            e.id,
            e.entry_key,
            e.sharer_id,
            e.order_id,
            e.order_line_id,
            e.level,
            e.kind,
            e.bucket,
            e.amount,
            e.currency,
            e.rule_id,
            e.rate_ppm,
            e.per_unit_x100,
            e.refund_id,
            e.payout_id,
            e.created_at,
        )
    ).all()
    return {row[0]: tuple(row) for row in rows}


# A delivery Stripe sends again under a new event id is recorded (and does nothing else).
NOT_FINGERPRINTED = {"stripe_events"}


def fingerprint() -> dict[str, list]:
    """Every row of every table (but the webhook's event log): what a replay must not change."""
    db.session.expire_all()
    return {
        table.name: db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        for table in db.metadata.sorted_tables
        if table.name not in NOT_FINGERPRINTED
    }


class LedgerMachine(RuleBasedStateMachine):
    """Set ``app``, ``client`` and ``fake`` on a subclass (see ``machine_for``)."""

    app = None
    client = None
    fake = None

    def __init__(self):
        super().__init__()
        reset_database()
        self.now = timedelta(0)  # the model's clock: time since the example started
        self.orders: list[OrderModel] = []
        self.earnings: dict[tuple[int, int], Earning] = {}
        self.bindings: dict[str, BindingModel | None] = dict.fromkeys(CUSTOMERS)
        self.last_code: dict[str, str] = {}
        self.paid_out: dict[str, int] = dict.fromkeys(SHARERS, 0)
        self.refunds: list[tuple[OrderModel, int, str, dict[int, int], bool]] = []
        self.seen: dict[int, tuple] = {}
        self.stock = {name: qty for name, (_price, qty) in PRODUCTS.items()}
        self.versions_published = 0
        # The outbox: every event the model expects (in publication order, which is the
        # order of their ids and so of a sweep), what is broken, and the reversal keys written.
        self.outbox: dict[tuple[str, tuple], EventModel] = {}
        self.redis_down = False
        self.failures: dict[str, list[str]] = {}
        self.reversed: set[tuple[int, int, int]] = set()
        OUTAGE.__init__()
        self._build_world()

    # -- the world ----------------------------------------------------------------------------

    def _build_world(self) -> None:
        store = make_store("West Lake", "Hangzhou", "1 West Lake Rd")
        other = make_store("Pingjiang", "Suzhou", "2 Pingjiang Rd")
        categories = {name: make_category(name.title()) for name in PRODUCTS}
        self.products = {
            name: make_product(
                name.title(), price=price, stock_qty=qty, category=categories[name], store=store
            )
            for name, (price, qty) in PRODUCTS.items()
        }
        self.variants = {name: p.variants[0].id for name, p in self.products.items()}
        self.product_of_variant = {v: name for name, v in self.variants.items()}
        self.category_ids = {name: categories[name].id for name in PRODUCTS}
        self.store_ids = (store.id, other.id)

        def staff(email: str, role: str, stores) -> Staff:
            member = Staff(
                email=email, name=email, role=role, password_hash=password_hash(), stores=stores
            )
            db.session.add(member)
            return member

        self.finance = staff("finance@test", Role.FINANCE, [])
        gold = SharerLevel(name="Gold", multiplier_pct=120)
        li = Sharer(
            kind="guide",
            name="Li Na",
            staff=staff("li@test", Role.GUIDE, [store]),
            store=store,
            phone=CUSTOMERS["li"],
        )
        zhao = Sharer(
            kind="promoter",
            name="Zhao Lei",
            customer=Customer(phone=CUSTOMERS["zhao"], name="Zhao Lei"),
            phone=CUSTOMERS["zhao"],
            parent=li,
            store=store,
            level=gold,
        )
        wang = Sharer(
            kind="guide",
            name="Wang Fang",
            staff=staff("wang@test", Role.GUIDE, [other]),
            store=other,
        )
        db.session.add_all([li, zhao, wang])
        db.session.add_all(
            Customer(phone=phone, name=name.title())
            for name, phone in CUSTOMERS.items()
            if name != "zhao"
        )
        db.session.flush()
        self.customer_ids = dict(db.session.execute(select(Customer.phone, Customer.id)).all())
        self.customer_ids = {name: self.customer_ids[phone] for name, phone in CUSTOMERS.items()}
        templates = {
            "percent": CouponTemplate(name="7% off", kind="percent", value=PERCENT_COUPON),
            "fixed": CouponTemplate(name="5 off", kind="fixed", value=FIXED_COUPON),
        }
        for template in templates.values():
            template.per_customer_limit = 1000
            db.session.add(template)
        db.session.flush()
        self.coupon_templates = {kind: template.id for kind, template in templates.items()}
        self.sharer_ids = {"li": li.id, "zhao": zhao.id, "wang": wang.id}
        self.sharer_store = {"li": store.id, "zhao": store.id, "wang": other.id}
        self.parent = {"zhao": "li"}
        self.multiplier = {"li": 100, "zhao": 120, "wang": 100}
        # The rules: sku (fixed per unit) for cups, category for samples, store for Wang
        # Fang's store; tea from Li Na's store falls through to the built-in 10% / 5%.
        self.rules: dict[tuple[str, int], tuple[str, int, int]] = {}
        self._publish("sku", self.variants["cup"], "fixed", 150, 40)
        self._publish("category", self.category_ids["sample"], "percent", 800, 300)
        self._publish("store", other.id, "percent", 1500, 0)
        db.session.commit()

    def _publish(self, scope: str, scope_id: int, kind: str, level1: int, level2: int) -> None:
        old = db.session.scalar(
            select(CommissionRule).where(
                CommissionRule.scope == scope,
                CommissionRule.scope_id == scope_id,
                CommissionRule.status == "published",
            )
        )
        if old is not None:
            old.status = "archived"
        db.session.add(
            CommissionRule(
                scope=scope,
                scope_id=scope_id,
                kind=kind,
                level1_value=level1,
                level2_value=level2,
                version=old.version + 1 if old else 1,
                status="published",
                published_at=utcnow(),
            )
        )
        self.rules[(scope, scope_id)] = (kind, level1, level2)

    def _rate(self, order: OrderModel, product: str, level: int, sharer: str) -> Rate:
        candidates = [
            ("sku", self.variants[product]),
            ("product", self.products[product].id),
            ("category", self.category_ids[product]),
            ("store", order.store_id or 0),
            ("default", 0),
        ]
        for key in candidates:
            if key in order.rules:
                kind, level1, level2 = order.rules[key]
                return Rate(kind, level1 if level == 1 else level2, self.multiplier[sharer])
        return Rate("percent", 1000 if level == 1 else 500, self.multiplier[sharer])

    # -- helpers ------------------------------------------------------------------------------

    def _valid(self, binding: BindingModel | None) -> bool:
        return binding is not None and binding.touched + VALIDITY > self.now

    def _settled_balance(self, sharer: str) -> int:
        return (
            sum(e.written for e in self.earnings.values() if e.sharer == sharer and e.settled)
            - self.paid_out[sharer]
        )

    def _in(self, *statuses: str) -> list[OrderModel]:
        return [o for o in self.orders if o.status in statuses]

    def _refundable(self) -> list[OrderModel]:
        return [
            o
            for o in self._in(*REFUNDABLE)
            if any(line.refunded_quantity < line.quantity for line in o.lines)
        ]

    def _unchanged_by(self, action, raises: type[Exception] | None = None) -> object:
        """Run ``action`` (expected to raise ``raises``, if given); assert it changed nothing."""
        before = fingerprint()
        result = None
        if raises is None:
            result = action()
        else:
            with pytest.raises(raises):
                action()
        db.session.rollback()
        assert fingerprint() == before
        return result

    # -- visits -------------------------------------------------------------------------------

    @rule(
        customer=st.sampled_from(sorted(CUSTOMERS)),
        sharer=st.sampled_from(SHARERS),
        product=st.sampled_from(sorted(PRODUCTS)),
        channel=st.sampled_from(["wechat-group", "moments", "in-store"]),
        signed_in=st.booleans(),
    )
    def visit(self, customer, sharer, product, channel, signed_in):
        self._open(customer, sharer, product, channel, signed_in)

    def _open(self, customer, sharer, product, channel, signed_in) -> None:
        """A customer opens a share link; first-sharer-protected decides the binding."""
        link = link_for(
            db.session.get(Sharer, self.sharer_ids[sharer]),
            "product",
            self.products[product].id,
            channel,
        )
        customer_id = self.customer_ids[customer] if signed_in else None
        open_link(link, f"visitor-{customer}", customer_id)
        self.last_code[customer] = link.code
        current = self.bindings[customer]
        if not self._valid(current):
            current = None
        if current is not None and current.sharer == sharer:
            current.touched = self.now
        elif current is None or current.touched + PROTECTION <= self.now:
            self.bindings[customer] = BindingModel(sharer, self.now, customer_id is not None)

    # -- orders -------------------------------------------------------------------------------

    @initialize(data=st.data(), count=st.integers(1, 3))
    def opening_orders(self, data, count):
        """Every example starts with a few paid orders, most of them through a share link."""
        for _ in range(count):
            self._place(data, "pay", data.draw(st.sampled_from([*SHARERS, None]), label="link"))

    @rule(
        data=st.data(),
        then=st.sampled_from(["pay", "wait"]),
        opened=st.sampled_from([None, *SHARERS]),
    )
    def place(self, data, then, opened):
        """An order, often right after opening a share link, often paid at once."""
        self._place(data, then, opened)

    def _place(self, data, then: str, opened: str | None) -> None:
        customer = data.draw(st.sampled_from(sorted(CUSTOMERS)), label="customer")
        items = data.draw(
            st.lists(
                st.tuples(st.sampled_from(sorted(PRODUCTS)), st.integers(1, 5)),
                min_size=1,
                max_size=3,
                unique_by=lambda item: item[0],
            ),
            label="items",
        )
        method = data.draw(st.sampled_from(["store", "stripe"]), label="method")
        fulfilment = (
            data.draw(st.sampled_from(["pickup", "delivery"]), label="fulfilment")
            if method == "stripe"
            else "pickup"
        )
        # An order right after opening a link carries that device's visitor cookie.
        with_cookie = opened is not None or data.draw(st.booleans(), label="with_cookie")
        share_code = data.draw(
            st.sampled_from([None, "last", "Forged42"]) if with_cookie else st.none(),
            label="share_code",
        )
        coupon = data.draw(st.sampled_from([None, None, "percent", "fixed"]), label="coupon")
        pickup_store = data.draw(st.sampled_from(self.store_ids), label="pickup_store")
        if opened is not None:
            self._open(customer, opened, items[0][0], "wechat-group", signed_in=False)
        attribution = {}
        if with_cookie:
            attribution["visitor_id"] = f"visitor-{customer}"
            code = self.last_code.get(customer) if share_code == "last" else share_code
            if code:
                attribution["share_code"] = code
        details = CheckoutDetails(
            name=customer.title(),
            phone=CUSTOMERS[customer],
            fulfilment=fulfilment,
            payment_method=method,
            city="Hangzhou",
            address="3 Tea Lane" if fulfilment == "delivery" else "",
            pickup_store_id=pickup_store if fulfilment == "pickup" else None,
            attribution=attribution,
        )
        if coupon is not None:  # signed in, with a coupon just claimed
            details.customer_id = self.customer_ids[customer]
            with unit_of_work():
                details.coupon = coupons.issue(
                    self.coupon_templates[coupon], details.customer_id
                ).id
        basket = [(self.variants[name], quantity) for name, quantity in items]
        if any(quantity > self.stock[name] for name, quantity in items):
            with pytest.raises(OutOfStock):
                with unit_of_work():
                    place_order(basket, details, uuid.uuid4().hex)
            return
        with unit_of_work():
            placed = place_order(basket, details, uuid.uuid4().hex)
        for name, quantity in items:
            self.stock[name] -= quantity

        # Who is credited: the customer's binding, if valid and reachable from this order.
        binding = self.bindings[customer]
        earners: list[tuple[int, str]] = []
        decided_by = "forged-code" if share_code == "Forged42" else "no-touch"
        if self._valid(binding) and (with_cookie or binding.adopted):
            binding.adopted = True
            decided_by = "first-sharer-protected"
            if (binding.sharer, customer) in SELF:
                decided_by = "self-purchase"
            else:
                earners.append((1, binding.sharer))
                parent = self.parent.get(binding.sharer)
                if parent is not None and (parent, customer) not in SELF:  # no self second level
                    earners.append((2, parent))
        row = db.session.get(Attribution, placed.id)
        expected_ids = dict.fromkeys((1, 2))
        expected_ids.update({level: self.sharer_ids[s] for level, s in earners})
        assert (row.rule, row.sharer_id, row.parent_sharer_id) == (
            decided_by,
            expected_ids[1],
            expected_ids[2],
        ), row.facts
        store_id = self.sharer_store[earners[0][1]] if earners else None
        if store_id is not None:
            assert row.store_id == store_id

        order = db.session.get(Order, placed.id)
        subtotal = sum(line.line_total for line in order.lines)
        discount = {
            None: 0,
            "percent": half_up(Fraction(subtotal * PERCENT_COUPON, 10_000)),
            "fixed": min(FIXED_COUPON, subtotal),
        }[coupon]
        shipping = SHIPPING_FEE if fulfilment == "delivery" and subtotal < FREE_SHIPPING_FROM else 0
        assert (order.subtotal, order.discount, order.shipping, order.total) == (
            subtotal,
            discount,
            shipping,
            subtotal - discount + shipping,
        )
        model = OrderModel(
            id=order.id,
            method=method,
            fulfilment=fulfilment,
            created=self.now,
            lines=[
                Line(
                    id=line.id,
                    product=self.product_of_variant[line.variant_id],
                    quantity=line.quantity,
                    paid=line.line_total - half_up(Fraction(discount * line.line_total, subtotal)),
                )
                for line in order.lines
            ],
            total=subtotal - discount + shipping,
            earners=earners,
            store_id=store_id,
        )
        if method == "stripe":
            with self.app.test_request_context():
                payments.checkout_url(db.session.get(Order, order.id))
            model.session_id = db.session.get(Order, order.id).stripe_session_id
        self.orders.append(model)
        if then == "pay":
            self._pay(model)

    def _accrue(self, order: OrderModel) -> None:
        """The order is paid: its work (commission, points, ...) is published to the outbox
        with the payment."""
        order.status, order.paid = S.PAID, self.now
        order.rules = dict(self.rules)
        self._published(OrderTopic.PAID, order.id)

    def _payable(self) -> list[OrderModel]:
        """Unpaid orders, and expired ones (staff may try; Stripe may still take the money)."""
        return [
            o
            for o in self._in(S.AWAITING_PAYMENT, S.CANCELLED)
            if not (o.method == "stripe" and o.events)
        ]

    @precondition(lambda self: self._payable())
    @rule(data=st.data())
    def pay_later(self, data):
        self._pay(data.draw(st.sampled_from(self._payable()), label="order"))

    def _pay(self, order: OrderModel) -> None:
        if order.method == "store":
            self._pay_at_store(order)
        else:
            self._pay_with_stripe(order)

    def _pay_at_store(self, order: OrderModel) -> None:
        """Staff take the money at the counter; an expired order can no longer be marked paid."""
        if order.status == S.CANCELLED:
            self._unchanged_by(
                lambda: orders.mark_paid_at_store(order.id, self.finance), InvalidTransition
            )
            return
        with unit_of_work():
            assert orders.mark_paid_at_store(order.id, self.finance) is True
        self._accrue(order)

    def _pay_with_stripe(self, order: OrderModel) -> None:
        """The customer pays the Checkout Session; Stripe posts the signed webhook."""
        completed = event("checkout.session.completed", self.fake.pay(order.session_id))
        order.events.append(completed)
        reply = deliver(self.client, completed)
        assert reply.status_code == 200
        lines = [(line.product, line.quantity) for line in order.lines]
        if order.status == S.AWAITING_PAYMENT or all(q <= self.stock[p] for p, q in lines):
            assert reply.get_json() == {"result": "paid"}
            if order.status == S.CANCELLED:  # paid after expiry: the stock is taken again
                for product, quantity in lines:
                    self.stock[product] -= quantity
            self._accrue(order)
        else:
            assert reply.get_json() == {"result": "not paid"}
            order.needs_review = True

    @precondition(lambda self: any(o.events for o in self.orders))
    @rule(data=st.data(), fresh_id=st.booleans())
    def replay_payment_webhook(self, data, fresh_id):
        """Stripe delivers the same event again, or reports the same payment in a new event."""
        order = data.draw(st.sampled_from([o for o in self.orders if o.events]), label="order")
        completed = order.events[0]
        if fresh_id:
            again = event("checkout.session.async_payment_succeeded", completed["data"]["object"])
            expected = "not paid"
        else:
            again, expected = completed, "duplicate"
        reply = self._unchanged_by(lambda: deliver(self.client, again))
        assert reply.get_json() == {"result": expected}

    @precondition(lambda self: self._in(*REFUNDABLE, S.REFUNDED))
    @rule(data=st.data())
    def replay_payment(self, data):
        """The order_paid signal, the accrual job, or the staff's "mark paid" once more."""
        order = data.draw(st.sampled_from(self._in(*REFUNDABLE, S.REFUNDED)), label="order")
        # The job again only once its own delivery is over (before, it is the delivery: see
        # ``reconcile``, which runs it while events are pending).
        hows = ["signal", "job", "staff"] if self._quiet(order) else ["signal", "staff"]
        how = data.draw(st.sampled_from(hows), label="how")
        if how == "signal":
            self._unchanged_by(lambda: order_paid.send(self.app, order_id=order.id))
        elif how == "job":
            assert self._unchanged_by(lambda: jobs.accrue_commission(order.id)) == 0
        elif order.method == "store":
            self._unchanged_by(
                lambda: orders.mark_paid_at_store(order.id, self.finance), InvalidTransition
            )
        else:
            intent = db.session.get(Order, order.id).stripe_payment_intent
            paid_again = self._unchanged_by(
                lambda: orders.confirm_payment(
                    order.id,
                    provider="stripe",
                    external_id=intent,
                    amount=order.total,
                    currency="CNY",
                )
            )
            assert paid_again is False

    @precondition(lambda self: self._in(S.PAID, S.PICKED_UP, S.FULFILLED))
    @rule(data=st.data())
    def hand_over(self, data):
        order = data.draw(st.sampled_from(self._in(S.PAID, S.PICKED_UP, S.FULFILLED)))
        if order.status != S.PAID:
            with unit_of_work():
                orders.complete(order.id, self.finance)
            order.status = S.COMPLETED
        elif order.fulfilment == "pickup":
            with unit_of_work():
                orders.mark_picked_up(order.id, self.finance)
            order.status = S.PICKED_UP
        else:
            with unit_of_work():
                orders.fulfil(order.id, self.finance)
            order.status = S.FULFILLED

    # -- refunds ------------------------------------------------------------------------------

    @precondition(lambda self: self._refundable())
    @rule(data=st.data(), restock=st.booleans(), everything=st.booleans())
    def refund(self, data, restock, everything):
        order = data.draw(st.sampled_from(self._refundable()), label="order")
        quantities = {}
        for line in order.lines:
            left = line.quantity - line.refunded_quantity
            quantities[line.id] = left if everything else data.draw(st.integers(0, left))
        if not any(quantities.values()):
            line = next(ln for ln in order.lines if ln.refunded_quantity < ln.quantity)
            quantities[line.id] = 1
        key = uuid.uuid4().hex
        # What it gives back: a share of what is left of each line (a dashboard refund may have
        # taken some); the refund that empties the order gives back all that is left of it
        # (the delivery fee too).
        amounts = {
            line.id: half_up(
                Fraction(
                    (line.paid - line.refunded_amount) * quantities[line.id],
                    line.quantity - line.refunded_quantity,
                )
            )
            for line in order.lines
            if quantities[line.id]
        }
        emptied = all(
            line.refunded_quantity + quantities[line.id] == line.quantity for line in order.lines
        )
        expected = order.total - order.refunded if emptied else sum(amounts.values())
        # As the admin makes it: requested, then settled with Stripe when Stripe took the money.
        if not expected:
            # Nothing to give back (free items a coupon paid for): refused with a reason.
            self._unchanged_by(
                lambda: refund_now(
                    order.id, quantities, staff=self.finance, idempotency_key=key, restock=restock
                ),
                raises=InvalidInput,
            )
            return
        record = refund_now(
            order.id, quantities, staff=self.finance, idempotency_key=key, restock=restock
        )
        for line in order.lines:
            if quantities[line.id]:
                line.refunded_quantity += quantities[line.id]
                line.refunded_amount += amounts[line.id]
                if restock:
                    self.stock[line.product] += quantities[line.id]
        assert record.amount == expected
        order.refunded += expected
        if order.refunded >= order.total:
            order.status = S.REFUNDED
        self.refunds.append((order, record.id, key, quantities, restock))
        self._published(OrderTopic.REFUNDED, order.id, record.id)

    def _refundable_in_stripe(self) -> list[OrderModel]:
        return [o for o in self._in(*REFUNDABLE) if o.method == "stripe" and o.refunded < o.total]

    @precondition(lambda self: self._refundable_in_stripe())
    @rule(data=st.data())
    def refund_in_stripe_dashboard(self, data):
        """Staff refund the rest of a payment in Stripe's dashboard; Stripe reports the charge:
        every line is then refunded in full, so is its commission (nothing is restocked)."""
        order = data.draw(st.sampled_from(self._refundable_in_stripe()), label="order")
        intent = db.session.get(Order, order.id).stripe_payment_intent
        self.fake.dashboard_refund(intent, order.total - order.refunded)
        reply = deliver(self.client, event("charge.refunded", self.fake.charge(intent)))
        assert reply.get_json() == {"result": "1 refunds recorded"}
        for line in order.lines:
            line.refunded_quantity, line.refunded_amount = line.quantity, line.paid
        order.refunded, order.status = order.total, S.REFUNDED
        refund_id = db.session.scalar(
            select(func.max(Refund.id)).where(Refund.order_id == order.id)
        )
        stripe_refund_id = db.session.get(Refund, refund_id).stripe_refund_id
        self.refunds.append((order, refund_id, f"stripe-{stripe_refund_id}", {}, False))
        self._published(OrderTopic.REFUNDED, order.id, refund_id)

    def _partly_refundable_in_stripe(self) -> list[OrderModel]:
        return [o for o in self._refundable_in_stripe() if o.total - o.refunded >= 2]

    @precondition(lambda self: self._partly_refundable_in_stripe())
    @rule(data=st.data())
    def refund_part_in_stripe_dashboard(self, data):
        """Staff refund part of a payment in Stripe's dashboard, naming no items: its money is
        spread over what is left of each line and of shipping, by largest remainder."""
        order = data.draw(st.sampled_from(self._partly_refundable_in_stripe()), label="order")
        amount = data.draw(st.integers(1, order.total - order.refunded - 1), label="amount")
        intent = db.session.get(Order, order.id).stripe_payment_intent
        self.fake.dashboard_refund(intent, amount)
        reply = deliver(self.client, event("charge.refunded", self.fake.charge(intent)))
        assert reply.get_json() == {"result": "1 refunds recorded"}
        weights = [line.paid - line.refunded_amount for line in order.lines]
        weights.append(max(0, order.total - order.refunded - sum(weights)))
        exact = [Fraction(amount * w, sum(weights)) for w in weights]
        shares = [math.floor(x) for x in exact]
        ranked = sorted(range(len(exact)), key=lambda i: (-(exact[i] - shares[i]), i))
        for i in ranked[: amount - sum(shares)]:
            shares[i] += 1
        for line, share in zip(order.lines, shares, strict=False):
            line.refunded_amount += share
            line.money_only += share
        order.refunded += amount
        refund_id = db.session.scalar(
            select(func.max(Refund.id)).where(Refund.order_id == order.id)
        )
        stripe_refund_id = db.session.get(Refund, refund_id).stripe_refund_id
        self.refunds.append((order, refund_id, f"stripe-{stripe_refund_id}", {}, False))
        self._published(OrderTopic.REFUNDED, order.id, refund_id)

    @precondition(lambda self: self.refunds)
    @rule(data=st.data(), how=st.sampled_from(["same-key", "job", "signal", "stripe"]))
    def replay_refund(self, data, how):
        """The same refund submitted again, its job or signal again, Stripe's charge.refunded."""
        order, refund_id, key, quantities, restock = data.draw(
            st.sampled_from(self.refunds), label="refund"
        )
        if how == "job" and not self._quiet(order):
            how = "same-key"  # the job while its event is pending is not a replay
        if how == "same-key":
            again = self._unchanged_by(
                lambda: orders.refund(
                    order.id, quantities, staff=self.finance, idempotency_key=key, restock=restock
                )
            )
            assert again.id == refund_id
        elif how == "job":
            assert self._unchanged_by(lambda: jobs.reverse_commission(order.id, refund_id)) == 0
        elif how == "signal":
            self._unchanged_by(
                lambda: order_refunded.send(self.app, order_id=order.id, refund_id=refund_id)
            )
        elif order.method == "stripe":
            intent = db.session.get(Order, order.id).stripe_payment_intent
            reply = self._unchanged_by(
                lambda: deliver(self.client, event("charge.refunded", self.fake.charge(intent)))
            )
            assert reply.get_json() == {"result": "0 refunds recorded"}

    # -- time, expiry, settlement, payouts ----------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(step=st.sampled_from(CLOCK_STEPS))
    def time_passes(self, step):
        """Age every timestamp the shop and the attribution read (and the rules' publication,
        which says which rule was in force at a payment); the ledger stays untouched."""
        columns = {
            CommissionRule: ("published_at",),
            Order: ("created_at", "expires_at", "paid_at"),
            Visit: ("created_at",),
            Binding: ("bound_at", "touched_at", "protected_until", "valid_until"),
            Attribution: ("decided_at",),
        }
        for model, names in columns.items():
            for row in db.session.scalars(select(model)):
                for name in names:
                    if getattr(row, name) is not None:
                        setattr(row, name, getattr(row, name) - step)
        db.session.commit()
        self.now += step
        self._expire_unpaid()

    def _expire_unpaid(self) -> None:
        """The expiry job, as it runs on the clock: unpaid orders past their hold are cancelled."""
        due = [
            o
            for o in self._in(S.AWAITING_PAYMENT)
            if not o.needs_review and o.created + o.hold <= self.now
        ]
        assert orders.expire_due_each_in_own_transaction() == len(due)
        for order in due:
            order.status = S.CANCELLED
            for line in order.lines:
                self.stock[line.product] += line.quantity

    @precondition(lambda self: self.earnings)
    @rule(
        ahead=st.sampled_from([None, timedelta(0), timedelta(days=1), WINDOW]), replay=st.booleans()
    )
    def settle(self, ahead, replay):
        """The settlement job (the clock's now, or an explicit ``now``), maybe run twice."""
        now = None if ahead is None else utcnow() + ahead
        at = self.now + (ahead or timedelta(0))
        due = [
            e
            for e in self.earnings.values()
            if not e.settled and e.order.paid + WINDOW <= at and e.written != 0
        ]
        with unit_of_work():
            assert settle_due_commissions(now) == len(due)
        for earning in due:
            earning.settled = True
        if replay:
            assert self._unchanged_by(lambda: settle_due_commissions(now)) == 0

    @precondition(lambda self: any(e.settled for e in self.earnings.values()))
    @rule(sharer=st.sampled_from(SHARERS), replay=st.booleans())
    def pay_out(self, sharer, replay):
        amount = self._settled_balance(sharer)
        if amount <= 0:
            self._unchanged_by(
                lambda: approve_payout(self.sharer_ids[sharer], self.finance, "CNY"),
                CommissionError,
            )
            return
        with unit_of_work():
            payout = approve_payout(self.sharer_ids[sharer], self.finance, "CNY")
        assert payout.amount == amount
        self.paid_out[sharer] += amount
        if replay:  # finance clicks "approve" twice: nothing is left to pay
            self._unchanged_by(
                lambda: approve_payout(self.sharer_ids[sharer], self.finance, "CNY"),
                CommissionError,
            )

    @precondition(lambda self: self.versions_published < 2)
    @rule(level1=st.sampled_from([600, 1200, 2500]), level2=st.sampled_from([0, 250]))
    def publish_rule_version(self, level1, level2):
        """Finance publishes a new version of the samples' rule: paid lines keep their rate."""
        self._publish("category", self.category_ids["sample"], "percent", level1, level2)
        db.session.commit()
        self.versions_published += 1

    # -- the outbox: what a payment or refund owes, delivered after its commit ------------------

    def _published(self, topic: str, *args) -> None:
        """The change committed with one event per handler of ``topic``; after the commit each
        is handed over (in-process: delivered at once), unless Redis is down."""
        events = []
        for handler in hooks(self.app).handlers[topic]:
            events.append(EventModel(topic, handler, args))
            self.outbox[(handler, args)] = events[-1]
        if not self.redis_down:
            for event_model in events:
                self._delivered(event_model)

    def _delivered(self, ev: EventModel) -> None:
        """What ``outbox.deliver`` does to one event, in the model."""
        if ev.status != OutboxStatus.PENDING or not ev.due:
            return  # the claim finds it done, failed or leased: nothing runs
        ev.attempts += 1
        phases = self.failures.get(ev.handler)
        phase = phases.pop(0) if phases else None
        if phase is None:
            self._effect(ev)
            ev.status = OutboxStatus.DONE
            return
        if phase == "after":
            self._effect(ev)
        ev.due = False  # backing off
        if ev.attempts >= MAX_ATTEMPTS:
            ev.status = OutboxStatus.FAILED

    def _effect(self, ev: EventModel) -> None:
        """What a handler writes, run once or again (handlers are idempotent)."""
        order = next(o for o in self.orders if o.id == ev.args[0])
        if ev.handler == "distribution.jobs.accrue_commission":
            self._accrual(order)
        elif ev.handler == "distribution.jobs.reverse_commission":
            self._reversal(order, ev.args[1])
        elif ev.handler == "shop.members.jobs.earn_points":
            if order.status in REFUNDABLE and order.earns_points():  # paid, not all refunded
                order.points = True
        # Levels, tiers and referral rewards: nothing in this shop to change (no thresholds,
        # no referrals); their events are still tracked, delivered once.

    def _accrual(self, order: OrderModel) -> None:
        """Entries for each earner, written once, at rate × what is kept by now.

        The rate is the rule in force when the order was paid, however late the accrual is
        delivered (Redis down, retries, a new version published in between).
        """
        if order.accrued or not order.earners:
            return
        order.accrued = True
        for line in order.lines:
            for level, sharer in order.earners:
                rate = self._rate(order, line.product, level, sharer)
                earning = Earning(order, line, level, sharer, rate)
                earning.written = earning.net()
                self.earnings[(line.id, level)] = earning

    def _reversal(self, order: OrderModel, refund_id: int) -> None:
        """Each accrued line brought to rate × what is kept now, under this refund's key (a
        line already reversed under it is left alone; one with nothing to change gets none)."""
        for earning in self.earnings.values():
            key = (refund_id, earning.line.id, earning.level)
            if earning.order is not order or key in self.reversed:
                continue
            if earning.net() != earning.written:
                earning.written = earning.net()
                self.reversed.add(key)

    def _events(self, *statuses: str, due: bool | None = None) -> list[EventModel]:
        return [
            ev
            for ev in self.outbox.values()
            if ev.status in statuses and (due is None or ev.due == due)
        ]

    def _quiet(self, order: OrderModel) -> bool:
        """No work of the order's is still owed (pending or failed)."""
        return not any(
            ev.args[0] == order.id for ev in self._events(OutboxStatus.PENDING, OutboxStatus.FAILED)
        )

    def _event_id(self, ev: EventModel) -> int:
        return db.session.scalar(select(OutboxEvent.id).where(OutboxEvent.key == ev.key))

    @precondition(lambda self: not self.redis_down)
    @rule()
    def redis_goes_down(self):
        """From now on nothing is handed over: payments and refunds answer as usual, and the
        work they owe stays pending (``dispatch`` logs and moves on)."""
        self.redis_down = OUTAGE.redis_down = True

    @precondition(lambda self: self.redis_down)
    @rule()
    def redis_comes_back(self):
        """Redis answers again and the sweep (``redispatch_due``) hands over what is due."""
        self.redis_down = OUTAGE.redis_down = False
        self.sweep()

    @precondition(lambda self: self._events(OutboxStatus.PENDING))
    @rule()
    def sweep(self):
        """The periodic sweep: every pending event that is due is dispatched, in id order."""
        due = self._events(OutboxStatus.PENDING, due=True)
        assert outbox.redispatch_due() == len(due)
        if not self.redis_down:
            for ev in due:
                self._delivered(ev)

    @rule(
        handler=st.sampled_from(
            [
                "distribution.jobs.accrue_commission",
                "distribution.jobs.reverse_commission",
                "shop.members.jobs.earn_points",
                "shop.members.jobs.evaluate_tiers",
            ]
        ),
        phases=st.lists(st.sampled_from(["before", "after"]), min_size=1, max_size=2),
    )
    def job_fails(self, handler, phases):
        """The next deliveries of ``handler`` raise (before doing its work, or after its work
        committed), once per phase: each failure backs off; a later delivery does the work."""
        OUTAGE.failures.setdefault(handler, []).extend(phases)
        self.failures.setdefault(handler, []).extend(phases)

    @precondition(lambda self: self._events(OutboxStatus.PENDING, due=False))
    @rule()
    def backoff_and_leases_run_out(self):
        """Time passes for the outbox: every backoff is over and every lease has expired, and
        the sweep (every minute) dispatches what is due."""
        waiting = self._events(OutboxStatus.PENDING, due=False)
        db.session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.key.in_([ev.key for ev in waiting]))
            .values(available_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        for ev in waiting:
            ev.due = True
        self.sweep()

    @precondition(lambda self: self._events(OutboxStatus.PENDING, due=True))
    @rule(data=st.data(), phase=st.sampled_from(["before", "after"]))
    def worker_killed(self, data, phase):
        """A worker claims a due event and dies before its handler ran, or after the
        handler's work committed but before "done": the event stays leased, then the sweep
        delivers it again once the lease expires (once more, or with no further effect)."""
        ev = data.draw(st.sampled_from(self._events(OutboxStatus.PENDING, due=True)))
        OUTAGE.kill = (ev.handler, ev.args, phase)
        with pytest.raises(WorkerKilled):
            outbox.deliver(self._event_id(ev))
        db.session.rollback()  # the process is gone, and its transaction with it
        ev.attempts += 1
        ev.due = False
        if phase == "after":
            self._effect(ev)

    @precondition(lambda self: not self._quiet_everywhere())
    @rule()
    def reconcile(self):
        """``flask ledger reconcile`` while work is still owed: it writes each missing
        commission and points decision and each refund's reversal, once; the deliveries that
        come later find them written and add nothing."""
        result = self.app.test_cli_runner().invoke(args=["ledger", "reconcile"])
        assert result.exit_code == 0, result.output
        for order in self._in(*REFUNDABLE):
            self._accrual(order)
            if order.earns_points():
                order.points = True
        for order, refund_id, *_ in sorted(self.refunds, key=lambda refund: refund[1]):
            self._reversal(order, refund_id)

    @precondition(lambda self: self._events(OutboxStatus.FAILED))
    @rule(data=st.data())
    def staff_retry_failed_event(self, data):
        """Staff retry an event that gave up (the admin's Outbox view): from its first attempt,
        dispatched after their commit."""
        ev = data.draw(st.sampled_from(self._events(OutboxStatus.FAILED)))
        assert outbox.retry(self._event_id(ev)) is True
        db.session.commit()
        ev.status, ev.attempts, ev.due = OutboxStatus.PENDING, 0, True
        if not self.redis_down:
            self._delivered(ev)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def everything_agrees(self):
        """Checked after every step, in this order (the snapshot first: later checks read it)."""
        db.session.expire_all()
        self._entries_are_append_only()
        self._balances_are_sums_of_entries()
        self._each_line_earns_its_rate_on_what_was_kept()
        self._orders_and_stock_match_the_model()
        self._outbox_matches_the_model()
        self._points_match_the_model()
        self._ledger_verifies()

    def _entries_are_append_only(self):
        rows = entry_rows()
        for entry_id, row in self.seen.items():
            assert rows.get(entry_id) == row, f"entry {entry_id} was edited or deleted"
        self.seen = rows

    def _balances_are_sums_of_entries(self):
        for name, sharer_id in self.sharer_ids.items():
            summed = {"pending": 0, "settled": 0, "paid": 0}
            for row in self.seen.values():
                if row[2] == sharer_id:
                    summed[row[7]] += row[8]
            pending = sum(
                e.written for e in self.earnings.values() if e.sharer == name and not e.settled
            )
            expected = {
                "pending": pending,
                "settled": self._settled_balance(name),
                "paid": self.paid_out[name],
            }
            assert balances(sharer_id) == summed == expected, name

    def _each_line_earns_its_rate_on_what_was_kept(self):
        e = CommissionEntry
        actual = {
            (line_id, level): (sharer_id, int(total), accruals)
            for line_id, level, sharer_id, total, accruals in db.session.execute(
                select(
                    e.order_line_id,
                    e.level,
                    e.sharer_id,
                    func.sum(e.amount),
                    func.sum(case((e.kind == "accrue", 1), else_=0)),
                )
                .where(e.kind.in_(("accrue", "reverse")))
                .group_by(e.order_line_id, e.level, e.sharer_id)
            )
        }
        expected = {
            key: (self.sharer_ids[earning.sharer], earning.written, 1)
            for key, earning in self.earnings.items()
        }
        assert actual == expected

    def _orders_and_stock_match_the_model(self):
        orders_now = db.session.execute(
            select(Order.id, Order.status, Order.refunded_amount, Order.total, Order.needs_review)
        ).all()
        assert {row[0]: tuple(row[1:]) for row in orders_now} == {
            o.id: (o.status, o.refunded, o.total, o.needs_review) for o in self.orders
        }
        lines_now = db.session.execute(
            select(OrderLine.id, OrderLine.refunded_quantity, OrderLine.refunded_amount)
        ).all()
        assert {row[0]: tuple(row[1:]) for row in lines_now} == {
            line.id: (line.refunded_quantity, line.refunded_amount)
            for o in self.orders
            for line in o.lines
        }
        stocks = dict(db.session.execute(select(Variant.id, Variant.stock)).all())
        assert {self.product_of_variant[v]: q for v, q in stocks.items()} == self.stock
        assert min(stocks.values()) >= 0
        assert stock.ledger_breaches() == []

    def _outbox_matches_the_model(self):
        """Every event the model expects, and no other, in the state, with the attempts and
        the availability the model expects: nothing lost, nothing delivered twice."""
        now = utcnow()
        rows = db.session.execute(
            select(
                OutboxEvent.handler,
                OutboxEvent.args,
                OutboxEvent.status,
                OutboxEvent.attempts,
                OutboxEvent.available_at,
            ).where(OutboxEvent.topic.in_(OUTBOX_TOPICS))
        ).all()
        actual = {
            (handler, tuple(args)): (status, attempts, status != "pending" or at <= now)
            for handler, args, status, attempts, at in rows
        }
        assert actual == {
            key: (ev.status, ev.attempts, ev.status != "pending" or ev.due)
            for key, ev in self.outbox.items()
        }

    def _points_match_the_model(self):
        earned = dict(
            db.session.execute(
                select(PointsEntry.order_id, func.count())
                .where(PointsEntry.kind == "earn")
                .group_by(PointsEntry.order_id)
            ).all()
        )
        assert earned == {o.id: 1 for o in self.orders if o.points}

    def _ledger_verifies(self):
        """Every ledger check of the app (``shop.hooks``) and ``flask ledger verify``.

        Once nothing is owed they find nothing. While work is still owed (pending, or failed
        until staff retry it), they report exactly what the model says is missing so far, and
        nothing else: a paid order with no commission accrued for its sharer or no points
        credited ("order N: ..."), and a line whose reversal has not run yet ("line L level
        K: ...", its commission still on what was kept before the refund).
        """
        undecided = [o for o in self._in(*REFUNDABLE) if o.earners and not o.accrued] + [
            o for o in self._in(*REFUNDABLE) if o.earns_points() and not o.points
        ]
        stale = sorted((e.line.id, e.level) for e in self.earnings.values() if e.written != e.net())
        numbers = {order.id: order.number for order in db.session.scalars(select(Order))}
        expected = sorted([f"order {numbers[o.id]}:" for o in undecided]) + sorted(
            f"line {line} level {level}:" for line, level in stale
        )
        breaches = [line for check in hooks(self.app).ledger_checks for line in check()]
        found = sorted(b.split(":")[0] + ":" for b in breaches if b.startswith("order "))
        found += sorted(b.split(":")[0] + ":" for b in breaches if not b.startswith("order "))
        assert found == expected, breaches
        if expected:
            assert not self._quiet_everywhere(), breaches
        assert (verify_ledger() == []) == (not stale)
        result = self.app.test_cli_runner().invoke(args=["ledger", "verify"])
        assert result.exit_code == (1 if expected else 0), result.output

    def _quiet_everywhere(self) -> bool:
        return not self._events(OutboxStatus.PENDING, OutboxStatus.FAILED)

    def teardown(self):
        OUTAGE.__init__()
        db.session.remove()


def machine_for(app, fake) -> type[LedgerMachine]:
    return type(
        "LedgerMachine",
        (LedgerMachine,),
        {"app": app, "client": app.test_client(), "fake": fake},
    )


@pytest.fixture
def app_config(app_config, fake_stripe) -> dict:
    return {**app_config, **fake_stripe.app_config()}


def _run(app, fake, monkeypatch, **limits) -> None:
    app.config["OUTBOX_MAX_ATTEMPTS"] = MAX_ATTEMPTS
    # This machine is about what payments and refunds owe: the work other changes owe (the
    # order's text to the customer, due a second after placing on the real clock; outgoing
    # webhooks of placing, cancelling, picking up) is left out of it.
    for topic in list(hooks(app).handlers):
        if topic not in (*OUTBOX_TOPICS, OrderTopic.RESERVATION_ENDS):
            hooks(app).handlers.pop(topic)
    monkeypatch.setattr(queue, "enqueue", OUTAGE.enqueue(queue.enqueue))
    monkeypatch.setattr(queue, "resolve", OUTAGE.resolve(queue.resolve))
    with app.app_context():
        run_state_machine_as_test(
            machine_for(app, fake),
            settings=settings(
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                **limits,
            ),
        )


@pytest.mark.postgres
def test_ledger_state_machine_on_postgres(app, fake_stripe, monkeypatch):
    _run(app, fake_stripe, monkeypatch, max_examples=10, stateful_step_count=25)


def test_ledger_state_machine_small(app, fake_stripe, monkeypatch):
    """A few short runs, on whichever database the suite runs on (SQLite by default)."""
    _run(app, fake_stripe, monkeypatch, max_examples=5, stateful_step_count=12)
