"""Closed vocabularies (``shop.infra.vocab``): a member is its string value, a stored value is
labelled by its vocabulary, and every value the demo data writes belongs to the vocabulary of
its column; the CHECK constraints name the same values as the vocabularies."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import CheckConstraint, select

from distribution.models import Channel, SharerStatus
from shop.extensions import db
from shop.infra.vocab import VOCABULARY


def _vocabulary_columns():
    """(model, column, vocabulary) for every column that names its vocabulary."""
    for mapper in db.Model.registry.mappers:
        for column in mapper.columns:
            if VOCABULARY in column.info:
                yield mapper.class_, column, column.info[VOCABULARY]


def test_a_member_is_its_string_value():
    assert SharerStatus.ACTIVE == "active" and isinstance(SharerStatus.ACTIVE, str)
    assert f"{SharerStatus.LEFT}" == str(SharerStatus.LEFT) == "left"
    assert SharerStatus("pending") is SharerStatus.PENDING
    assert SharerStatus.has("left") and not SharerStatus.has("actve")
    with pytest.raises(AttributeError):
        SharerStatus.ACTVE  # noqa: B018  (a typo fails where it is written)


def test_a_value_is_shown_by_its_label_and_an_unknown_one_as_itself(ctx):
    assert Channel.label_of("wechat-group") == "WeChat group"
    assert Channel.label_of("") == "Any"
    assert Channel.label_of("fax") == "fax"
    assert Channel.labels()["in-store"] is Channel.IN_STORE.label
    assert Channel.choices([Channel.POSTER]) == [("poster", Channel.POSTER.label)]


def test_check_constraints_name_the_values_of_the_vocabularies():
    checked = 0
    for table in db.Model.metadata.tables.values():
        for constraint in table.constraints:
            if not isinstance(constraint, CheckConstraint):
                continue
            match = re.fullmatch(r"(\w+) IN \((.*)\)", str(constraint.sqltext))
            if match is None or VOCABULARY not in table.c[match[1]].info:
                continue
            values = set(re.findall(r"'([^']*)'", match[2]))
            assert values == set(table.c[match[1]].info[VOCABULARY]), constraint.name
            checked += 1
    assert checked >= 6


def test_every_value_the_demo_data_stores_belongs_to_its_vocabulary(runner, ctx):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    unknown, filled = [], set()
    for model, column, vocabulary in _vocabulary_columns():
        for value in db.session.scalars(select(column).distinct()):
            filled.add(f"{model.__name__}.{column.key}")
            # "" is the default of a column that may hold no value yet (a binding not ended).
            blank_allowed = column.default is not None and column.default.arg == ""
            if not vocabulary.has(value) and not (value == "" and blank_allowed):
                unknown.append(f"{model.__name__}.{column.key} = {value!r}")
    assert unknown == []
    # The demo writes enough to make the check mean something.
    assert {
        "Sharer.kind",
        "Sharer.status",
        "ShareLink.target_type",
        "ShareLink.channel",
        "Visit.channel",
        "Attribution.rule",
        "CommissionRule.scope",
        "CommissionEntry.kind",
        "CommissionEntry.bucket",
        "Order.status",
        "Order.fulfilment",
        "Order.payment_method",
        "CouponTemplate.kind",
        "CouponTemplate.scope",
        "TierTask.kind",
        "PointsEntry.kind",
        "LoyaltySettings.credit_on",
        "StockMovement.reason",
        "Staff.role",
    } <= filled
