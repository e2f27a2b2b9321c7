"""Commission rules as staff manage them: drafts, publishing (versioned), and back-tests.

A rule is never edited once published: publishing a draft archives the rule it replaces (same
scope and target) and takes the next version number, and every commission entry records the
rule id it used, so any past line can be explained with the rule of its day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from distribution.commission import CommissionError, line_commission, money_only_refunds
from distribution.models import (
    Attribution,
    CommissionRule,
    RuleKind,
    RuleScope,
    RuleStatus,
    Sharer,
)
from distribution.rates import published_rules, rate_for, rule_for
from shop.catalog.models import Category, Product, Store, Variant
from shop.catalog.queries import PAID_STATES
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.orders.models import Order
from shop.staff import audit


class InvalidRule(CommissionError):
    """A rule that cannot be used: unknown scope or kind, no target, rates out of range."""

    code = "invalid_rule"


class RulePublished(CommissionError):
    """A published (or archived) rule never changes and is never deleted: make a new draft."""

    code = "rule_published"


#: what a rule of each scope applies to
SCOPE_MODELS = {
    RuleScope.SKU: Variant,
    RuleScope.PRODUCT: Product,
    RuleScope.CATEGORY: Category,
    RuleScope.STORE: Store,
}


def validate(rule: CommissionRule) -> None:
    if not RuleScope.has(rule.scope):
        raise InvalidRule(_("Unknown scope %(scope)s.", scope=rule.scope))
    if not RuleKind.has(rule.kind):
        raise InvalidRule(_("A rule is a percentage or a fixed amount per unit."))
    if rule.scope == RuleScope.DEFAULT:
        rule.scope_id = 0
    elif not rule.scope_id:
        raise InvalidRule(_("Choose what the %(scope)s rule applies to.", scope=rule.scope))
    for value in (rule.level1_value, rule.level2_value):
        if value is None or value < 0:
            raise InvalidRule(_("Rates cannot be negative."))
        if rule.kind == RuleKind.PERCENT and value > 10000:
            raise InvalidRule(_("A percentage rule cannot pay more than 100%."))
    target = SCOPE_MODELS.get(rule.scope)
    with db.session.no_autoflush:
        missing = target is not None and db.session.get(target, rule.scope_id) is None
    if missing:
        raise InvalidRule(
            _(
                "No %(scope)s has the id %(id)s.",
                scope=RuleScope(rule.scope).label,
                id=rule.scope_id,
            )
        )


def save_draft(rule: CommissionRule) -> None:
    """Check a rule being made or changed before it is flushed: a new rule is a draft; a
    published or archived one never changes (``RulePublished``: every commission line keeps
    the version it used); the values must make a usable rule (``InvalidRule``). Does not
    commit."""
    if rule.status is None:
        rule.status = RuleStatus.DRAFT
    elif rule.status != RuleStatus.DRAFT:
        raise RulePublished(_("A published rule never changes: make a new draft instead."))
    validate(rule)


def check_delete(rule: CommissionRule) -> None:
    """Only a draft is deleted: a published or archived rule explains past commission lines."""
    if rule.status != RuleStatus.DRAFT:
        raise RulePublished(_("Only a draft can be deleted."))


def publish(rule_id: int, staff) -> CommissionRule:
    """Publish a draft: it replaces the published rule of the same scope and target. Does not
    commit."""
    rule = db.session.get(CommissionRule, rule_id)
    if rule is None:
        raise CommissionError(_("Only a draft can be published."))
    if rule.status != RuleStatus.DRAFT:
        raise RulePublished(_("Only a draft can be published."))
    validate(rule)
    previous = db.session.scalar(
        select(CommissionRule).where(
            CommissionRule.scope == rule.scope,
            CommissionRule.scope_id == rule.scope_id,
            CommissionRule.status == RuleStatus.PUBLISHED,
        )
    )
    latest = db.session.scalar(
        select(func.max(CommissionRule.version)).where(
            CommissionRule.scope == rule.scope, CommissionRule.scope_id == rule.scope_id
        )
    )
    before = None
    if previous is not None:
        previous.status = RuleStatus.ARCHIVED
        before = audit.snapshot(previous)
    rule.status = RuleStatus.PUBLISHED
    rule.version = (latest or 0) + 1
    rule.published_at = utcnow()
    audit.record(
        staff,
        "commission_rule.publish",
        rule,
        before=before,
        after=audit.snapshot(rule),
        object_type="CommissionRule",
        store_id=None,
    )
    return rule


@dataclass
class BacktestRow:
    order: Order
    current: int
    proposed: int

    @property
    def difference(self) -> int:
        return self.proposed - self.current


@dataclass
class Backtest:
    days: int
    rows: list[BacktestRow] = field(default_factory=list)

    @property
    def current(self) -> int:
        return sum(r.current for r in self.rows)

    @property
    def proposed(self) -> int:
        return sum(r.proposed for r in self.rows)

    @property
    def difference(self) -> int:
        return self.proposed - self.current


def _order_commission(
    order: Order, attribution: Attribution, rules, money_only: dict[int, int]
) -> int:
    total = 0
    earners = [(1, attribution.sharer_id), (2, attribution.parent_sharer_id)]
    for line in order.lines:
        rule, scope = rule_for(line, attribution.store_id, rules)
        for level, sharer_id in earners:
            if not sharer_id:
                continue
            rate = rate_for(rule, level, db.session.get(Sharer, sharer_id), scope)
            total += line_commission(rate, order, line, money_only.get(line.id, 0))
    return total


def backtest(rule_id: int, days: int = 30) -> Backtest:
    """What the paid orders of the last ``days`` would have earned with this draft published."""
    draft = db.session.get(CommissionRule, rule_id)
    if draft is None:
        raise CommissionError(_("Unknown rule."))
    validate(draft)
    current = published_rules()
    proposed = dict(current)
    proposed[(draft.scope, draft.scope_id)] = draft
    result = Backtest(days=days)
    pairs = db.session.execute(
        select(Order, Attribution)
        .join(Attribution, Attribution.order_id == Order.id)
        .where(
            Order.status.in_(PAID_STATES),
            Order.paid_at >= utcnow() - timedelta(days=days),
            Attribution.sharer_id.is_not(None),
        )
        .order_by(Order.paid_at.desc())
    ).all()
    money_only = money_only_refunds() if pairs else {}  # one query, not one per order
    for order, attribution in pairs:
        result.rows.append(
            BacktestRow(
                order,
                _order_commission(order, attribution, current, money_only),
                _order_commission(order, attribution, proposed, money_only),
            )
        )
    return result
