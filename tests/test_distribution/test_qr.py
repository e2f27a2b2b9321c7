"""QR codes and posters scan back to their link: decoded with a real QR reader (zbarimg)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw

from distribution import posters, qr
from distribution.factories import make_promoter
from distribution.models import Sharer
from distribution.sharing import link_for
from shop.demo.factories import make_image, make_product, make_store
from shop.extensions import db
from shop.infra.clock import utcnow

ZBARIMG = shutil.which("zbarimg")
needs_zbar = pytest.mark.skipif(
    ZBARIMG is None, reason="zbarimg is missing: apt-get install zbar-tools to decode QR codes"
)


def decode(png: bytes, tmp_path) -> list[str]:
    """Every QR code zbarimg finds in a PNG."""
    path = tmp_path / "scan.png"
    path.write_bytes(png)
    result = subprocess.run(
        [ZBARIMG, "-q", "--raw", str(path)], capture_output=True, text=True, timeout=30
    )
    return [line for line in result.stdout.splitlines() if line]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PUBLIC_BASE_URL": "https://shop.example.com/"}


@pytest.fixture
def links(app):
    """A product link (with a picture and a Chinese name) and a home-page link; codes only."""
    with app.app_context():
        store = make_store("西湖店", "杭州")
        product = make_product(
            "明前龙井 西湖特级绿茶 250克礼盒装",
            store=store,
            variants=[("250 g", 39900, 5), ("500 g", 69900, 5)],
        )
        make_image(product, (40, 120, 80), "Longjing")
        sharer = Sharer(kind="guide", name="李娜", store=store)
        db.session.add(sharer)
        db.session.commit()
        return {
            "product": link_for(sharer, "product", product.id, "poster").code,
            "home": link_for(sharer, "home", 0, "moments").code,
        }


@needs_zbar
def test_qr_png_scans_to_the_link(client, links, tmp_path):
    response = client.get(f"/s/{links['product']}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert decode(response.data, tmp_path) == [f"https://shop.example.com/s/{links['product']}"]


@needs_zbar
def test_qr_svg_scans_to_the_link(client, links, tmp_path):
    """Paint the SVG's modules into a bitmap and scan that: the SVG draws the same code."""
    response = client.get(f"/s/{links['home']}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert '<rect fill="white"' in svg and "<script" not in svg
    side = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    scale = 8
    bitmap = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(bitmap)
    squares = re.findall(r"M(\d+),(\d+)H(\d+)V(\d+)H\d+z", svg)
    assert squares
    for x0, y0, x1, y1 in squares:
        draw.rectangle(
            (int(x0) * scale, int(y0) * scale, int(x1) * scale - 1, int(y1) * scale - 1), fill=0
        )
    out = io.BytesIO()
    bitmap.save(out, "PNG")
    assert decode(out.getvalue(), tmp_path) == [f"https://shop.example.com/s/{links['home']}"]


@needs_zbar
@pytest.mark.parametrize("which", ["product", "home"])
def test_poster_scans_to_the_link(client, links, tmp_path, which):
    response = client.get(f"/s/{links[which]}/poster.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert decode(response.data, tmp_path) == [f"https://shop.example.com/s/{links[which]}"]
    poster = Image.open(io.BytesIO(response.data)).convert("RGB")
    assert poster.size == qr.POSTER_SIZE
    picture_pixel = poster.getpixel((qr.MARGIN + 10, qr.MARGIN + 10))
    if which == "product":  # the product's own picture, not the placeholder
        assert picture_pixel == pytest.approx((40, 120, 80), abs=6)
    else:
        assert picture_pixel == qr.SOFT


@needs_zbar
def test_poster_scans_without_a_chinese_font(client, links, tmp_path, monkeypatch):
    monkeypatch.setattr(qr, "cjk_fonts", lambda: {})
    response = client.get(f"/s/{links['product']}/poster.png")
    assert decode(response.data, tmp_path) == [f"https://shop.example.com/s/{links['product']}"]


def test_a_promoter_s_poster_names_them(client, app, tmp_path):
    with app.app_context():
        promoter = make_promoter("Zhao Lei", "13800001111")
        db.session.commit()
        code = link_for(promoter, "home", 0, "whatsapp").code
    response = client.get(f"/s/{code}/poster.png")
    assert response.status_code == 200
    if ZBARIMG:
        assert decode(response.data, tmp_path) == [f"https://shop.example.com/s/{code}"]


@pytest.mark.parametrize("suffix", ["qr.png", "qr.svg", "poster.png"])
@pytest.mark.parametrize("code", ["NoSuchCd", "bad-code!", "x" * 40])
def test_unknown_codes_have_no_pictures(client, suffix, code):
    assert client.get(f"/s/{code}/{suffix}").status_code == 404


def test_pictures_are_cached_publicly_and_revalidated(client, links):
    for suffix, max_age in (("qr.png", 86400), ("qr.svg", 86400), ("poster.png", 600)):
        response = client.get(f"/s/{links['product']}/{suffix}")
        assert response.cache_control.public and response.cache_control.max_age == max_age
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        again = client.get(
            f"/s/{links['product']}/{suffix}", headers={"If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304 and again.data == b""


def test_the_link_itself_still_redirects_in_shop(client, links):
    response = client.get(f"/s/{links['product']}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/p/")


def test_prices_on_the_poster(app):
    with app.app_context():
        single = make_product("Black Tea", price=12000)
        assert posters.price_text(single) == ("¥120.00", "")
        several = make_product("Oolong", variants=[("S", 5000, 1), ("L", 9000, 1)])
        assert posters.price_text(several) == ("From ¥50.00", "")
        on_sale = make_product("White Tea", price=10000)
        variant = on_sale.variants[0]
        variant.sale_price = 8000
        variant.sale_starts_at = utcnow() - timedelta(hours=1)
        variant.sale_ends_at = utcnow() + timedelta(hours=1)
        assert posters.price_text(on_sale) == ("¥80.00", "¥100.00")


def test_long_names_wrap_within_the_width_and_end_with_an_ellipsis(app):
    with app.app_context():
        face = qr.font(40, bold=True)
        draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
        name = "明前龙井 西湖特级绿茶 250克礼盒装 送礼佳品 " * 4
        lines = qr.wrap(draw, name, face, 400, 2)
        assert len(lines) == 2
        assert all(draw.textlength(line, font=face) <= 400 for line in lines)
        assert lines[-1].endswith("…")
        assert qr.wrap(draw, "Green Tea", face, 400, 2) == ["Green Tea"]
        words = qr.wrap(draw, "Premium Spring Harvest Dragon Well", face, 300, 3)
        assert " ".join(words) == "Premium Spring Harvest Dragon Well"
        assert all(draw.textlength(line, font=face) <= 300 for line in words)
