"""The staff vocabulary: every role has a translated label."""

from __future__ import annotations

from shop.staff import models
from tests.support.vocabulary import assert_labelled


def test_every_role_has_a_translated_label(ctx):
    assert_labelled(models, {"Role"})
