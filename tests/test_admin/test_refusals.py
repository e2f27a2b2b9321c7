"""A rule a service refuses reaches the staff member as a message, through the base view's one
conversion (``admin.base.refused``): in a form, a delete, an action over several rows, a page,
and nothing is changed."""

from __future__ import annotations

from sqlalchemy import func, select

from distribution.factories import make_guide, make_promoter
from distribution.models import CommissionRule, DistributionSettings, Sharer
from distribution.sharing import settings
from shop.catalog.models import Store
from shop.extensions import db
from shop.staff.models import Role, Staff


def _rule(app, status: str, **values) -> int:
    with app.app_context():
        rule = CommissionRule(
            status=status,
            **{"scope": "default", "kind": "percent", "level1_value": 1000, **values},
        )
        db.session.add(rule)
        db.session.commit()
        return rule.id


def test_a_published_rule_is_not_deleted(as_role, app):
    owner = as_role(Role.OWNER)
    rule_id = _rule(app, "published", version=1)
    response = owner.post("/admin/rules/delete/", data={"id": str(rule_id)}, follow_redirects=True)
    assert "Only a draft can be deleted." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CommissionRule, rule_id) is not None


def test_a_back_test_of_an_unusable_draft_says_why(as_role, app):
    owner = as_role(Role.OWNER)
    rule_id = _rule(app, "draft", scope="product", scope_id=0)
    response = owner.get(f"/admin/rules/backtest/?id={rule_id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/admin/rules/details/?id={rule_id}")
    page = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Choose what the product rule applies to." in page


def test_an_unknown_order_number_is_said_on_the_preview(as_role):
    page = as_role(Role.OWNER).get("/admin/rules/preview/?order=SY999999")
    assert page.status_code == 200
    assert "No order has the number SY999999." in page.get_data(as_text=True)


def test_a_guide_whose_address_has_a_sign_in_is_not_added(as_role, shop_data, app):
    with app.app_context():
        make_guide(db.session.get(Store, shop_data.store_a), "Li Na", email="li.na@guides.test")
        db.session.commit()
    response = as_role(Role.OWNER).post(
        "/admin/sharers/new/",
        data={
            "name": "Sun Li",
            "store": str(shop_data.store_b),
            "email": "LI.NA@guides.test",
            "password": "a-long-password",
        },
    )
    assert response.status_code == 200
    assert "This e-mail address already has a sign-in." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Sharer.id).where(Sharer.name == "Sun Li")) is None
        assert db.session.scalar(select(func.count(Staff.id)).where(Staff.role == Role.GUIDE))


def test_an_action_over_several_rows_names_each_refusal(as_role, shop_data, app):
    with app.app_context():
        guide = make_guide(db.session.get(Store, shop_data.store_a), "Li Na")
        settings().promoter_approval = True
        waiting = make_promoter("Zhao Lei", "13900001111", parent=guide)
        waiting.status = "pending"
        db.session.commit()
        ids = [str(guide.id), str(waiting.id)]
    response = as_role(Role.OWNER).post(
        "/admin/sharers/action/",
        data={"action": "approve", "rowid": ids},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Li Na: Only a pending promoter can be approved." in page
    assert "1 promoter approved." in page
    with app.app_context():
        assert db.session.get(Sharer, int(ids[1])).status == "active"


def test_programme_settings_that_break_a_rule_are_not_saved(as_role, app):
    owner = as_role(Role.OWNER)
    owner.get("/admin/programme/", follow_redirects=True)
    with app.app_context():
        row_id = db.session.scalar(select(DistributionSettings.id))
    response = owner.post(
        f"/admin/programme/edit/?id={row_id}",
        data={
            "binding_policy": "last-click",
            "protection_days": "30",
            "validity_days": "7",
            "depth": "1",
            "return_window_days": "14",
        },
    )
    assert response.status_code == 200
    assert "The validity period cannot be shorter than the protection period." in (
        response.get_data(as_text=True)
    )
    with app.app_context():
        assert db.session.get(DistributionSettings, row_id).validity_days != 7
