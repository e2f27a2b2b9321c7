"""Headless Chromium at 1280 × 800: an owner makes a product commission rule by searching for
the product by name in the picker (no id typed); the picker follows the scope chosen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support import browser
from tests.test_admin.conftest import EMAILS, PASSWORD

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
live_server = browser.live_server


@pytest.fixture
def admin_page(chromium, live_server, shop_data):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(30_000)  # a busy 2-core CI machine
    page = context.new_page()
    page.goto(live_server("/admin/login"))
    page.get_by_label("E-mail").fill(EMAILS["owner"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server("/admin/"))
    yield page
    context.close()


def _choose_select2(page, field_id: str, text: str) -> None:
    page.locator(f"#s2id_{field_id}").click()
    page.locator(".select2-drop-active .select2-result-label", has_text=text).click()


def test_a_rule_target_is_searched_by_name(admin_page, live_server):
    page = admin_page
    page.goto(live_server("/admin/rules/new/"))
    target = page.locator("#s2id_scope_id")
    expect(target).to_be_hidden()  # the default rule names no target
    _choose_select2(page, "scope", "Product")
    expect(target).to_be_visible()
    target.click()
    page.keyboard.type("Red")
    results = page.locator(".select2-drop-active .select2-result-label")
    expect(results).to_have_text(["Red Tea"])
    results.first.click()
    expect(target).to_contain_text("Red Tea")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".model-list")).to_contain_text("Red Tea")


def test_the_menu_fits_one_line_at_1280(admin_page, live_server):
    page = admin_page
    for path in ("/lang/en?next=/admin/orders/", "/lang/zh_Hans_CN?next=/admin/orders/"):
        page.goto(live_server(path))
        expect(page.locator(".siyu-tabs")).to_be_visible()
        # One line of the navbar is under 60 px high; a wrapped one is about 100. Measured once
        # the page and its fonts have loaded (what decides the wrap); a polled predicate would be
        # a string the page's CSP forbids evaluating.
        page.wait_for_load_state("load")
        height = page.evaluate(
            "() => document.fonts.ready.then("
            "() => document.querySelector('nav.navbar').offsetHeight)"
        )
        assert height < 60, (path, height)
