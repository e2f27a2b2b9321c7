"""The product page on a phone, in headless Chromium: the gallery swipes, the buy bar stays at
the bottom of the screen, and the share button shares the page (the system's share sheet, or
the link copied where there is none)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from shop.demo.factories import make_image, make_product
from shop.extensions import db
from tests.support import browser

pytestmark = pytest.mark.browser

app_config = browser.app_config
chromium = browser.chromium
phone_context = browser.phone_context
page = browser.page
live_server = browser.live_server


@pytest.fixture
def slug(app) -> str:
    with app.app_context():
        product = make_product("茉莉绿茶", name_en="Jasmine Green Tea", price=4800)
        for colour in ((76, 140, 74), (200, 180, 140), (60, 90, 130)):
            make_image(product, colour)
        db.session.commit()
        return product.slug


def test_gallery_swipes_and_the_buy_bar_stays_on_screen(page, live_server, slug):
    page.goto(live_server(f"/p/{slug}"))
    expect(page.locator(".gallery-count")).to_have_text("1/3")
    page.locator(".gallery").evaluate("el => el.scrollTo({left: el.clientWidth * 2})")
    expect(page.locator(".gallery-count")).to_have_text("3/3")

    bar = page.locator(".buybar")
    expect(bar.get_by_role("button", name="Buy now")).to_be_in_viewport()
    expect(bar.get_by_role("button", name="Add to basket")).to_be_in_viewport()
    expect(bar.get_by_role("link", name="Basket")).to_be_in_viewport()
    page.mouse.wheel(0, 2000)
    expect(bar.get_by_role("button", name="Buy now")).to_be_in_viewport()

    bar.get_by_role("button", name="Add to basket").click()
    expect(page).to_have_url(live_server("/cart"))
    expect(page.locator(".lines")).to_contain_text("Jasmine Green Tea")


def test_the_buy_bar_never_covers_the_footer(page, live_server, slug):
    """Scrolled to the end, the page's last links sit above the fixed bar, and a tap on one
    reaches it (the click waits until the link itself would receive it)."""
    page.goto(live_server(f"/p/{slug}"))
    page.mouse.wheel(0, 5000)
    footer_link = page.locator("footer").get_by_role("link", name="My orders")
    expect(footer_link).to_be_in_viewport()
    footer_link.click(timeout=5000)
    expect(page).to_have_url(live_server("/orders"))


def test_share_uses_the_share_sheet(page, live_server, slug):
    page.add_init_script(
        "navigator.share = (data) => { window.shared = data; return Promise.resolve(); }"
    )
    page.goto(live_server(f"/p/{slug}"))
    page.get_by_role("button", name="Share").click()
    page.wait_for_function(
        "url => window.shared && window.shared.url === url && window.shared.title",
        arg=f"http://localhost/p/{slug}",
    )


def test_share_copies_the_link_without_a_share_sheet(page, phone_context, live_server, slug):
    phone_context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.add_init_script("delete Navigator.prototype.share; delete navigator.share;")
    page.goto(live_server(f"/p/{slug}"))
    page.get_by_role("button", name="Share").click()
    expect(page.locator(".share-status")).to_have_text("Link copied")
    page.evaluate("navigator.clipboard.readText().then(text => { window.copied = text; })")
    page.wait_for_function("url => window.copied === url", arg=f"http://localhost/p/{slug}")
