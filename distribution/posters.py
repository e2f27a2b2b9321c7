"""What a share link's poster says: the subject its target names, drawn by ``distribution.qr``.

Each kind of target (``LinkTarget``) has a source: a function from the link's ``target_id`` to
a ``PosterSubject`` (None when the target is gone, and the poster then advertises the shop).
Products, categories, coupons and the home page have theirs here; another package adds its
own kind of target with ``poster_source``, e.g. the live package::

    from distribution.models import LinkTarget
    from distribution.posters import PosterSubject, poster_source

    @poster_source(LinkTarget.LIVE)
    def live_session_poster(session_id: int) -> PosterSubject | None:
        session = db.session.get(LiveSession, session_id)
        if session is None:
            return None
        return PosterSubject(
            title=session.title,
            line=format_datetime(session.starts_at),  # the accent line under the title
            call=_("Scan the code to watch"),
            headline=_("Live"),
        )

Sources run in a request (or app) context, in the reader's language.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps
from sqlalchemy import select

from distribution.models import LinkTarget, ShareLink
from shop.catalog import images
from shop.catalog.models import Category, Product, ProductImage
from shop.extensions import db
from shop.members.coupons import describe
from shop.members.models import CouponTemplate
from shop.money import format_money


@dataclass
class PosterSubject:
    """What a poster advertises.

    ``title``: the name under the picture; ``line``: the accent line under it (a price, a
    coupon's value, a session's time); ``struck``: a regular price struck out beside it;
    ``call``: what scanning does; ``pictures``: the image files to show (one fills the
    square, up to four share it), or else ``headline`` written large in its place (the
    shop's name when empty).
    """

    title: str
    call: str
    line: str = ""
    struck: str = ""
    headline: str = ""
    pictures: tuple[str, ...] = ()

    def picture_image(self, side: int) -> Image.Image | None:
        """The pictures in a ``side`` square (one, or a grid of two by two), or None when
        none can be read."""
        found = [picture for picture in map(_read, self.pictures[:4]) if picture is not None]
        if not found:
            return None
        if len(found) < 4:
            return ImageOps.fit(found[0], (side, side), Image.Resampling.LANCZOS)
        square = Image.new("RGB", (side, side), "white")
        half, gap = side // 2, 4
        for n, picture in enumerate(found):
            tile = ImageOps.fit(picture, (half - gap, half - gap), Image.Resampling.LANCZOS)
            square.paste(tile, ((n % 2) * (half + gap // 2), (n // 2) * (half + gap // 2)))
        return square


def _read(path: str) -> Image.Image | None:
    try:
        with Image.open(path) as picture:
            return picture.convert("RGB")
    except OSError:
        return None


def _picture_path(filename: str) -> str:
    return os.path.join(images.upload_dir(), os.path.basename(filename))


PosterSource = Callable[[int], PosterSubject | None]
_SOURCES: dict[str, PosterSource] = {}


def poster_source(target_type: str) -> Callable[[PosterSource], PosterSource]:
    """Register the source of posters for links to ``target_type`` (replacing any)."""
    if not LinkTarget.has(target_type):
        raise ValueError(f"unknown share target {target_type!r}")

    def register(source: PosterSource) -> PosterSource:
        _SOURCES[target_type] = source
        return source

    return register


def subject_of(link: ShareLink) -> PosterSubject:
    """What the link's poster shows: its target's subject, else the shop's."""
    source = _SOURCES.get(link.target_type)
    found = source(link.target_id) if source is not None else None
    return found or home_subject(0)


def price_text(product: Product) -> tuple[str, str]:
    """The price to print and the regular price to strike out ("" when not on sale)."""
    currency = current_app.config["SHOP_CURRENCY"]
    cheapest = product.cheapest_variant()
    if cheapest is None:
        return "", ""
    price = format_money(cheapest.current_price(), currency)
    if product.prices_differ():
        price = _("From %(price)s", price=price)
    regular = format_money(cheapest.price, currency) if cheapest.sale_active() else ""
    return price, regular


@poster_source(LinkTarget.PRODUCT)
def product_subject(product_id: int) -> PosterSubject | None:
    product = db.session.scalar(
        select(Product).where(Product.id == product_id, Product.active.is_(True))
    )
    if product is None:
        return None
    price, regular = price_text(product)
    return PosterSubject(
        title=product.name,
        call=_("Scan the code to buy"),
        line=price,
        struck=regular,
        pictures=tuple(_picture_path(image.filename) for image in product.images[:1]),
    )


@poster_source(LinkTarget.CATEGORY)
def category_subject(category_id: int) -> PosterSubject | None:
    """A category (a campaign's page): its name, and the pictures of four of its products."""
    name = db.session.scalar(select(Category.name).where(Category.id == category_id))
    if not name:
        return None
    first_pictures = (
        select(ProductImage.filename)
        .join(Product, Product.id == ProductImage.product_id)
        .where(Product.category_id == category_id, Product.active.is_(True))
        .order_by(Product.created_at.desc(), Product.id.desc(), ProductImage.position)
    )
    pictures, seen = [], set()
    for filename, product_id in db.session.execute(
        first_pictures.add_columns(ProductImage.product_id).limit(40)
    ):
        if product_id not in seen:
            seen.add(product_id)
            pictures.append(_picture_path(filename))
    return PosterSubject(
        title=name, call=_("Scan the code to see them all"), pictures=tuple(pictures[:4])
    )


@poster_source(LinkTarget.COUPON)
def coupon_subject(template_id: int) -> PosterSubject | None:
    """A coupon's poster: its name, and what it gives written large (a link to a coupon no
    longer claimable still opens the coupon's page, which says so)."""
    template = db.session.get(CouponTemplate, template_id)
    if template is None or not template.active:
        return None
    return PosterSubject(
        title=template.name,
        call=_("Scan the code to claim the coupon"),
        headline=describe(template),
    )


@poster_source(LinkTarget.HOME)
def home_subject(_target_id: int) -> PosterSubject:
    return PosterSubject(
        title=_("Visit %(shop)s online", shop=current_app.config["SHOP_NAME"]),
        call=_("Scan the code to visit the shop"),
    )
