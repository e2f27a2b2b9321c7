"""The distribution's vocabularies: every member has a translated label; the attribution rules
include the binding policies (a credited order names the policy that credited it)."""

from __future__ import annotations

from distribution import models
from distribution.models import PICKABLE_CHANNELS, AttributionRule, BindingPolicy, Channel
from tests.support.vocabulary import assert_labelled


def test_every_distribution_vocabulary_member_has_a_translated_label(ctx):
    assert_labelled(
        models,
        {
            "AttributionRule",
            "BindingPolicy",
            "BindingState",
            "Bucket",
            "Channel",
            "EntryKind",
            "LinkTarget",
            "PayoutStatus",
            "RuleKind",
            "RuleScope",
            "RuleStatus",
            "SharerKind",
            "SharerStatus",
        },
    )


def test_a_binding_policy_is_an_attribution_rule_with_the_same_label():
    for policy in BindingPolicy:
        rule = AttributionRule(policy.value)
        assert rule.label._args == policy.label._args


def test_a_sharer_picks_from_the_named_channels():
    assert Channel.ANY not in PICKABLE_CHANNELS and Channel.OTHER not in PICKABLE_CHANNELS
    assert set(PICKABLE_CHANNELS) < set(Channel)
