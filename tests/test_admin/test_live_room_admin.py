"""The banned words of live comments: kept by whoever moderates reviews, audited."""

from __future__ import annotations

from sqlalchemy import select

from live.room_models import BannedWord
from shop.extensions import db
from shop.staff.models import AuditLog, Role
from tests.test_admin.conftest import signed_in


def test_support_adds_a_banned_word_and_finance_cannot(client, as_role, app):
    as_role(Role.SUPPORT)
    form = client.get("/admin/live-banned-words/new/")
    assert form.status_code == 200
    added = client.post(
        "/admin/live-banned-words/new/",
        data={"word": "  Cheap   KNOCKOFF "},
    )
    assert added.status_code == 302
    with app.app_context():
        assert db.session.scalars(select(BannedWord.word)).all() == ["cheap knockoff"]
        assert db.session.scalar(select(AuditLog).order_by(AuditLog.id.desc())) is not None

    other = app.test_client()
    signed_in(other, Role.FINANCE)
    assert other.get("/admin/live-banned-words/").status_code in (302, 403)
