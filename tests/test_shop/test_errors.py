"""One root for every domain error, each class with a stable machine code beside its message."""

from __future__ import annotations

import distribution.commission
import distribution.rules
from shop.errors import ShopError


def _all_errors(root=ShopError) -> list[type]:
    found = [root]
    for cls in root.__subclasses__():
        found += _all_errors(cls)
    return found


def test_every_domain_error_derives_from_the_one_root_with_a_code_of_its_own():
    classes = _all_errors()
    names = {cls.__name__ for cls in classes}
    assert {"CommissionError", "InvalidRule", "RulePublished", "InvalidInput"} <= names
    assert issubclass(distribution.commission.CommissionError, ShopError)
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), codes
    assert all(code.replace("_", "").isalpha() and code.islower() for code in codes), codes


def test_an_error_carries_its_message_and_its_code():
    error = distribution.rules.RulePublished("A published rule never changes.")
    assert (error.code, error.message, str(error)) == (
        "rule_published",
        "A published rule never changes.",
        "A published rule never changes.",
    )
