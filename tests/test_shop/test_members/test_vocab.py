"""The membership vocabularies: every member has a translated label."""

from __future__ import annotations

from shop.members import models
from tests.support.vocabulary import assert_labelled


def test_every_member_vocabulary_member_has_a_translated_label(ctx):
    assert_labelled(
        models,
        {
            "CouponKind",
            "CouponScope",
            "CouponSource",
            "CreditOn",
            "PointsKind",
            "ReferralStatus",
            "TaskKind",
        },
    )
