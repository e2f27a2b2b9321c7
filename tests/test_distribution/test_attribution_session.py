"""The share link a visitor came through travels in their session behind one API."""

from __future__ import annotations

from distribution.attribution_session import carried_attribution, remember_share, shared_link
from shop.hooks import carried_attribution as carried_by_the_app


def test_the_last_share_link_opened_is_the_one_carried():
    session = {}
    assert shared_link(session) is None
    assert carried_attribution(session) == {}

    remember_share(session, "AbCd1234")
    remember_share(session, "ZzYy9876")

    assert shared_link(session) == "ZzYy9876"
    assert carried_attribution(session) == {"share_code": "ZzYy9876"}


def test_the_shop_reads_it_through_the_reader_distribution_registers(app):
    session = {}
    remember_share(session, "AbCd1234")
    with app.app_context():
        assert carried_by_the_app(session) == {"share_code": "AbCd1234"}
        assert carried_by_the_app({}) == {}
