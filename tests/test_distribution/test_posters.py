"""Posters read correctly in Chinese, and say what their link leads to.

A missing glyph is drawn as the font's box, the same box for every character it lacks: so a
title of Chinese characters drawn as boxes is pixel for pixel the title of characters no font
has (``qr.MISSING``), and two different Chinese titles look the same. These tests compare
exactly that, on the posters the shop serves.
"""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageChops, ImageFont
from sqlalchemy import select

from distribution import posters, qr
from distribution.models import LinkTarget, ShareLink, Sharer
from distribution.posters import PosterSubject, poster_source
from distribution.sharing import link_for
from shop.demo.factories import make_category, make_image, make_product, make_store
from shop.extensions import db
from tests.support.members import make_template

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}
TITLE_TOP = qr.MARGIN + qr.POSTER_SIZE[0] - 2 * qr.MARGIN + 28  # under the picture
TITLE_BAND = (0, TITLE_TOP - 8, qr.POSTER_SIZE[0], TITLE_TOP + 50)
LINE_BAND = (0, TITLE_TOP + 50, qr.POSTER_SIZE[0], TITLE_TOP + 120)


def require_cjk_font():
    """Skip without a Chinese font on a developer's machine; in CI (where ``make install``
    installs fonts-noto-cjk) its absence is a failure."""
    if qr.cjk_fonts():
        return
    message = "no font with Chinese glyphs: make install (as root) installs fonts-noto-cjk"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def guide(app):
    with app.app_context():
        store = make_store("西湖店", "杭州")
        sharer = Sharer(kind="guide", name="李娜", store=store)
        db.session.add(sharer)
        db.session.commit()
        return sharer.id


def _link(guide_id: int, target_type: str, target_id: int) -> str:
    return link_for(db.session.get(Sharer, guide_id), target_type, target_id, "poster").code


def _product_link(guide_id: int, name: str, price: int = 6800) -> str:
    return _link(guide_id, LinkTarget.PRODUCT, make_product(name, price=price).id)


def _poster(client, code: str) -> Image.Image:
    response = client.get(f"/s/{code}/poster.png", headers=CHINESE)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.data)).convert("RGB")


def _differ(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a, b).getbbox() is not None


def _inked(band: Image.Image) -> bool:
    return band.convert("L").getextrema()[0] < 128


def test_the_poster_fonts_draw_chinese_and_the_yuan_sign(app):
    require_cjk_font()
    for bold in (False, True):
        face = qr.font(40, bold=bold)
        assert isinstance(face, ImageFont.FreeTypeFont)
        assert qr.draws(face, "明前龙井绿茶分享扫码购买领取优惠券¥0123")
        masks = {char: bytes(face.getmask(char)) for char in "龙井¥" + qr.MISSING}
        assert len(set(masks.values())) == 4  # distinct glyphs, none of them the box


def test_a_chinese_poster_draws_its_title_not_boxes(client, app, guide):
    require_cjk_font()
    with app.app_context():
        codes = [
            _product_link(guide, "龙井绿茶"),
            _product_link(guide, "白毫银针"),
            _product_link(guide, qr.MISSING * 4),  # what boxes would look like
        ]
    longjing, silver_needle, boxes = (_poster(client, code).crop(TITLE_BAND) for code in codes)
    assert _inked(longjing) and _inked(silver_needle)
    assert _differ(longjing, boxes)
    assert _differ(longjing, silver_needle)


def test_the_yuan_sign_is_drawn(client, app, guide, monkeypatch):
    require_cjk_font()
    with app.app_context():
        code = _product_link(guide, "龙井绿茶", price=6800)
    real = _poster(client, code).crop(LINE_BAND)
    assert _inked(real)
    monkeypatch.setattr(posters, "price_text", lambda product: (qr.MISSING + "68.00", ""))
    boxed = _poster(client, code).crop(LINE_BAND)
    assert _differ(real, boxed)


def test_without_a_chinese_font_the_yuan_sign_still_draws(app, monkeypatch):
    """A machine with no Chinese font still prints "¥68.00", not "☐68.00" (DejaVu Sans)."""
    monkeypatch.setattr(qr, "cjk_fonts", lambda: {})
    if not qr.latin_fonts():
        pytest.skip("no Latin font with ¥ either")
    assert qr.draws(qr.font(46, bold=True), "¥68.00 From")


def test_a_coupon_poster_shows_the_coupon_and_its_value(client, app, guide):
    with app.app_context():
        template = make_template("春茶尝鲜券", value=2000, threshold=10000)
        code = _link(guide, LinkTarget.COUPON, template.id)
    with app.test_request_context(headers=CHINESE):
        subject = posters.subject_of(db.session.scalar(_by_code(code)))
        assert subject.title == "春茶尝鲜券"
        assert "¥20.00" in subject.headline and "¥100.00" in subject.headline
        assert subject.call != posters.home_subject(0).call
    poster = _poster(client, code)
    picture_box = (qr.MARGIN, qr.MARGIN, qr.POSTER_SIZE[0] - qr.MARGIN, TITLE_TOP - 28)
    # the value written large in the picture's place, in the accent colour
    assert qr.ACCENT in {colour for _n, colour in poster.crop(picture_box).getcolors(1 << 16)}


def test_a_link_to_a_coupon_gone_advertises_the_shop(client, app, guide):
    with app.app_context():
        template = make_template("Old coupon", active=False)
        code = _link(guide, LinkTarget.COUPON, template.id)
    with app.test_request_context():
        subject = posters.subject_of(db.session.scalar(_by_code(code)))
        assert subject == posters.home_subject(0)


def test_a_category_poster_shows_four_of_its_products(client, app, guide):
    colours = [(200, 40, 40), (40, 160, 60), (40, 60, 200), (220, 180, 30)]
    with app.app_context():
        category = make_category("春茶上新")
        for n, colour in enumerate(colours):
            make_image(make_product(f"春茶 {n}", category=category), colour)
        make_product("No picture", category=category)
        code = _link(guide, LinkTarget.CATEGORY, category.id)
    poster = _poster(client, code)
    side = qr.POSTER_SIZE[0] - 2 * qr.MARGIN
    quarter = side // 4
    corners = [
        poster.getpixel((qr.MARGIN + x, qr.MARGIN + y))
        for y in (quarter, 3 * quarter)
        for x in (quarter, 3 * quarter)
    ]
    # newest product first: the four pictures, one per quarter
    flat = [channel for corner in corners for channel in corner]
    assert flat == pytest.approx([c for colour in reversed(colours) for c in colour], abs=6)


def test_another_package_plugs_in_its_kind_of_target(client, app, guide, monkeypatch):
    """A live session's link (the live package registers its source) shows the session."""
    monkeypatch.setattr(posters, "_SOURCES", dict(posters._SOURCES))
    seen = []

    @poster_source(LinkTarget.LIVE)
    def live(session_id: int) -> PosterSubject:
        seen.append(session_id)
        return PosterSubject(
            title="今晚八点 龙井直播", line="20:00", call="扫码观看", headline="直播"
        )

    with app.app_context():
        code = _link(guide, LinkTarget.LIVE, 42)
    with app.test_request_context():
        assert posters.subject_of(db.session.scalar(_by_code(code))).title == "今晚八点 龙井直播"
    assert _poster(client, code).size == qr.POSTER_SIZE
    assert seen == [42, 42]
    with pytest.raises(ValueError):
        poster_source("campaign-of-no-kind")


def test_a_poster_varies_with_the_reader_s_language(client, app, guide):
    with app.app_context():
        code = _link(guide, LinkTarget.HOME, 0)
    response = client.get(f"/s/{code}/poster.png", headers=CHINESE)
    assert {"Accept-Language", "Cookie"} <= set(response.vary)


def _by_code(code: str):
    return select(ShareLink).where(ShareLink.code == code)
