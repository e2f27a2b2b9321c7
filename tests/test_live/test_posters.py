"""A live session's invite poster shows the session, not the shop's home page."""

from __future__ import annotations

from distribution.factories import make_guide
from distribution.models import LinkTarget
from distribution.posters import subject_of
from distribution.sharing import link_for
from live.factories import make_session
from shop.extensions import db
from tests.support.shop import small_catalog


def test_an_invite_poster_shows_the_session_it_leads_to(ctx):
    store, _, _ = small_catalog()
    guide = make_guide(store, "Li Na", email="li@guides.test")
    on_air = make_session(store, "Spring tea live", host=guide, on_air=True)
    later = make_session(store, "Weekend teaware", host=guide)
    db.session.commit()

    subject = subject_of(link_for(guide, LinkTarget.LIVE, on_air.id))
    assert (subject.title, subject.line, subject.headline) == (
        "Spring tea live",
        "Live now",
        "Live",
    )
    assert subject.call == "Scan the code to watch"
    assert subject_of(link_for(guide, LinkTarget.LIVE, later.id)).title == "Weekend teaware"


def test_a_live_invite_is_listed_as_a_live_session_not_the_home_page(ctx):
    from distribution.reports import my_links

    store, _, _ = small_catalog()
    guide = make_guide(store, "Li Na", email="li@guides.test")
    session = make_session(store, "Spring tea live", host=guide)
    link_for(guide, LinkTarget.LIVE, session.id)
    db.session.commit()
    (row,) = my_links(guide)
    assert row.target == "Live session"
