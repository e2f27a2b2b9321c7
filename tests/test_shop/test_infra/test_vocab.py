"""The infrastructure's vocabularies: every outbox status has a translated label."""

from __future__ import annotations

from shop.infra import outbox
from tests.support.vocabulary import assert_labelled


def test_every_outbox_status_has_a_translated_label(ctx):
    assert_labelled(outbox, {"OutboxStatus"})
