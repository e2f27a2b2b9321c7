"""QR codes and posters for share links: what a guide shows in store or posts in a chat.

Every image encodes the link's absolute URL (``PUBLIC_BASE_URL`` + ``/s/<code>``), so scanning
it records a visit like a tap on the link. Posters are drawn with Pillow in a font that has
Chinese glyphs when one is installed (Noto Sans CJK or WenQuanYi, found with ``fc-list``);
without one, Pillow's own font draws Latin text and the QR code still scans.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from functools import cache

import qrcode
import qrcode.image.svg
from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont, ImageOps
from sqlalchemy import select

from distribution.models import LinkTarget, ShareLink
from shop.catalog import images
from shop.catalog.models import Category, Product
from shop.extensions import db
from shop.money import format_money

POSTER_SIZE = (750, 1334)
MARGIN = 48
QR_SIDE = 300
INK = (29, 29, 31)
MUTED = (110, 110, 115)
ACCENT = (192, 57, 43)
SOFT = (245, 245, 247)

# Font families by preference: a sans-serif with Simplified Chinese first.
_FAMILY_RANK = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK")


def link_url(link: ShareLink) -> str:
    """The absolute URL a QR code carries."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/s/{link.code}"


def _qr(url: str, **options) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, **options)
    code.add_data(url)
    code.make(fit=True)
    return code


def qr_image(url: str, box_size: int = 10) -> Image.Image:
    return (
        _qr(url, box_size=box_size).make_image(fill_color="black", back_color="white").get_image()
    )


def qr_fitting(url: str, side: int) -> Image.Image:
    """The QR code at the largest whole number of pixels per module that fits ``side``,
    centred on a white square: scaling by a fraction would blur the modules' edges."""
    code = _qr(url, box_size=1)
    box = max(1, side // (code.modules_count + 2 * code.border))
    picture = qr_image(url, box_size=box)
    square = Image.new("RGB", (side, side), "white")
    offset = (side - picture.width) // 2
    square.paste(picture.convert("RGB"), (offset, offset))
    return square


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    qr_image(url).save(out, "PNG", optimize=True)
    return out.getvalue()


def qr_svg(url: str) -> bytes:
    """A scalable QR code on a white background (dark chat themes would hide a bare one)."""
    return _qr(url, image_factory=qrcode.image.svg.SvgPathFillImage).make_image().to_string()


@cache
def cjk_fonts() -> dict[str, tuple[str, int]]:
    """Installed font files with Chinese glyphs: {"regular": (path, index), "bold": ...}."""
    if shutil.which("fc-list") is None:
        return {}
    try:
        listing = subprocess.run(
            ["fc-list", ":lang=zh-cn", "-f", "%{file}|%{index}|%{family}|%{style}\n"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, tuple[int, str, int]] = {}
    for row in listing.splitlines():
        parts = row.split("|")
        if len(parts) != 4 or not parts[1].isdigit() or not os.path.exists(parts[0]):
            continue
        path, index, family, style = parts[0], int(parts[1]), parts[2], parts[3]
        if "Mono" in family or "Serif" in family:
            continue
        rank = next((n for n, name in enumerate(_FAMILY_RANK) if name in family), len(_FAMILY_RANK))
        weight = "bold" if "Bold" in style else "regular" if "Regular" in style else ""
        if weight and (weight not in found or rank < found[weight][0]):
            found[weight] = (rank, path, index)
    if "regular" in found and "bold" not in found:
        found["bold"] = found["regular"]
    return {weight: (path, index) for weight, (_rank, path, index) in found.items()}


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    choice = cjk_fonts().get("bold" if bold else "regular")
    if choice is not None:
        return ImageFont.truetype(choice[0], size, index=choice[1])
    return ImageFont.load_default(size=size)


_TOKENS = re.compile(
    r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff]+|\s+"
)


def wrap(draw: ImageDraw.ImageDraw, text: str, face, width: int, max_lines: int) -> list[str]:
    """Break ``text`` into at most ``max_lines`` lines no wider than ``width``: between words,
    between Chinese characters, inside a word only when it alone is too wide. The last line
    ends with an ellipsis when text was left out."""
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(text.strip()):
        if draw.textlength(line + token, font=face) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.strip())
        line = "" if token.isspace() else token
        while draw.textlength(line, font=face) > width:
            cut = len(line) - 1
            while cut > 1 and draw.textlength(line[:cut], font=face) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.strip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and draw.textlength(last + "…", font=face) > width:
            last = last[:-1]
        lines = lines[: max_lines - 1] + [last.rstrip() + "…"]
    return lines


def _product_picture(product: Product, side: int) -> Image.Image | None:
    if not product.images:
        return None
    path = os.path.join(images.upload_dir(), os.path.basename(product.images[0].filename))
    try:
        with Image.open(path) as picture:
            return ImageOps.fit(picture.convert("RGB"), (side, side), Image.Resampling.LANCZOS)
    except OSError:
        return None


def _price_text(product: Product) -> tuple[str, str]:
    """The price to print and the regular price to strike out ("" when not on sale)."""
    currency = current_app.config["SHOP_CURRENCY"]
    variants = list(product.variants)
    if not variants:
        return "", ""
    cheapest = min(variants, key=lambda v: v.current_price())
    price = format_money(cheapest.current_price(), currency)
    if len({v.current_price() for v in variants}) > 1:
        price = _("From %(price)s", price=price)
    regular = format_money(cheapest.price, currency) if cheapest.sale_active() else ""
    return price, regular


def _subject(link: ShareLink) -> tuple[str, Product | None]:
    """What the poster advertises: a product, a category, or the shop itself."""
    if link.target_type == LinkTarget.PRODUCT:
        product = db.session.scalar(
            select(Product).where(Product.id == link.target_id, Product.active.is_(True))
        )
        if product is not None:
            return product.name, product
    if link.target_type == LinkTarget.CATEGORY:
        name = db.session.scalar(select(Category.name).where(Category.id == link.target_id))
        if name:
            return name, None
    return _("Visit %(shop)s online", shop=current_app.config["SHOP_NAME"]), None


def poster_png(link: ShareLink) -> bytes:
    """A phone-sized poster: picture, name, price, who shares it, and the QR code."""
    width, height = POSTER_SIZE
    poster = Image.new("RGB", POSTER_SIZE, "white")
    draw = ImageDraw.Draw(poster)
    title, product = _subject(link)
    picture_side = width - 2 * MARGIN
    picture = _product_picture(product, picture_side) if product is not None else None
    top = MARGIN
    if picture is not None:
        poster.paste(picture, (MARGIN, top))
    else:
        draw.rounded_rectangle(
            (MARGIN, top, width - MARGIN, top + picture_side), radius=24, fill=SOFT
        )
        brand = font(72, bold=True)
        lines = wrap(draw, current_app.config["SHOP_NAME"], brand, picture_side - 80, 2)
        y = top + picture_side // 2 - 45 * len(lines)
        for text in lines:
            draw.text((width // 2, y), text, font=brand, fill=ACCENT, anchor="ma")
            y += 90
    y = top + picture_side + 28
    heading = font(40, bold=True)
    for text in wrap(draw, title, heading, width - 2 * MARGIN, 2):
        draw.text((MARGIN, y), text, font=heading, fill=INK)
        y += 54
    qr_top = height - MARGIN - QR_SIDE
    if product is not None:
        price, regular = _price_text(product)
        price_font = font(46, bold=True)
        draw.text((MARGIN, y + 4), price, font=price_font, fill=ACCENT)
        if regular:
            x = MARGIN + draw.textlength(price, font=price_font) + 18
            small = font(28)
            draw.text((x, y + 20), regular, font=small, fill=MUTED)
            strike_y = y + 20 + small.size // 2 + 4
            draw.line(
                (x, strike_y, x + draw.textlength(regular, font=small), strike_y),
                fill=MUTED,
                width=2,
            )
    poster.paste(qr_fitting(link_url(link), QR_SIDE), (width - MARGIN - QR_SIDE, qr_top))
    text_width = width - 3 * MARGIN - QR_SIDE
    label = font(30)
    y = qr_top + 60
    for text in wrap(draw, _("Shared by %(name)s", name=link.sharer.name), label, text_width, 2):
        draw.text((MARGIN, y), text, font=label, fill=INK)
        y += 42
    y += 12
    hint = font(26)
    words = _("Scan the code to buy") if product else _("Scan the code to visit the shop")
    for text in wrap(draw, words, hint, text_width, 2):
        draw.text((MARGIN, y), text, font=hint, fill=MUTED)
        y += 36
    out = io.BytesIO()
    poster.save(out, "PNG", optimize=True)
    return out.getvalue()
