"""Which published rule applies to a line, and the rate it gives a sharer at a level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from distribution.models import CommissionRule, RuleKind, RuleScope, RuleStatus, Sharer
from shop.catalog.models import Product
from shop.extensions import db
from shop.orders.models import OrderLine

DEFAULT_LEVEL1_BP = 1000  # 10 %
DEFAULT_LEVEL2_BP = 500  # 5 %


@dataclass(frozen=True)
class Rate:
    """What a line earns at one level, and which rule said so."""

    rule_id: int | None
    scope: str
    kind: RuleKind
    rate_ppm: int | None  # percent: basis points × multiplier %
    per_unit_x100: int | None  # fixed: minor units per unit × multiplier %

    def amount(self, paid: int, units: int) -> int:
        if self.kind == RuleKind.PERCENT:
            return (paid * self.rate_ppm * 2 + 1_000_000) // 2_000_000
        return (self.per_unit_x100 * units * 2 + 100) // 200

    def describe(self) -> str:
        if self.kind == RuleKind.PERCENT:
            return f"{self.rate_ppm / 10000:g}% ({self.scope} rule)"
        return f"{self.per_unit_x100 / 100:g} per unit ({self.scope} rule)"


def published_rules() -> dict[tuple[str, int], CommissionRule]:
    rules = db.session.scalars(
        select(CommissionRule).where(CommissionRule.status == RuleStatus.PUBLISHED)
    )
    return {(r.scope, r.scope_id): r for r in rules}


def rules_in_force(at: datetime | None) -> dict[tuple[str, int], CommissionRule]:
    """Each target's rule as it stood at ``at`` (None: now, the published ones).

    A rule is archived only when a newer version of the same target is published, so the
    version in force at a moment is the target's latest published by then. Commission is owed
    at the rate in force when the order was paid, however late its accrual runs."""
    if at is None:
        return published_rules()
    rules = db.session.scalars(
        select(CommissionRule)
        .where(
            CommissionRule.status.in_((RuleStatus.PUBLISHED, RuleStatus.ARCHIVED)),
            or_(CommissionRule.published_at.is_(None), CommissionRule.published_at <= at),
        )
        .order_by(CommissionRule.published_at, CommissionRule.id)
    )
    return {(r.scope, r.scope_id): r for r in rules}  # a later version replaces an earlier


def rule_for(
    line: OrderLine,
    store_id: int | None,
    rules: dict[tuple[str, int], CommissionRule] | None = None,
    category_id: int | None = None,
) -> tuple[CommissionRule | None, str]:
    """The most specific published rule for a line: sku > product > category > store > default."""
    rules = published_rules() if rules is None else rules
    if category_id is None:
        category_id = db.session.scalar(
            select(Product.category_id).where(Product.id == line.product_id)
        )
    candidates = [
        (RuleScope.SKU, line.variant_id),
        (RuleScope.PRODUCT, line.product_id),
        (RuleScope.CATEGORY, category_id or 0),
        (RuleScope.STORE, store_id or 0),
        (RuleScope.DEFAULT, 0),
    ]
    for scope, scope_id in candidates:
        rule = rules.get((scope, scope_id))
        if rule is not None:
            return rule, scope
    return None, "built-in default"


def rate_for(rule: CommissionRule | None, level: int, sharer: Sharer, scope: str) -> Rate:
    multiplier = sharer.level.multiplier_pct if sharer.level else 100
    if rule is None:
        bp = DEFAULT_LEVEL1_BP if level == 1 else DEFAULT_LEVEL2_BP
        return Rate(None, scope, RuleKind.PERCENT, bp * multiplier, None)
    value = rule.level1_value if level == 1 else rule.level2_value
    if rule.kind == RuleKind.FIXED:
        return Rate(rule.id, scope, RuleKind.FIXED, None, value * multiplier)
    return Rate(rule.id, scope, RuleKind.PERCENT, value * multiplier, None)
