"""The order vocabularies: every member has a translated label."""

from __future__ import annotations

from shop.orders import models
from tests.support.vocabulary import assert_labelled


def test_every_order_vocabulary_member_has_a_translated_label(ctx):
    assert_labelled(models, {"OrderStatus", "Fulfilment", "PaymentMethod", "RefundStatus"})
