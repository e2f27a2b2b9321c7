"""Making a share link in one tap, from the workbench or a product page."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from distribution.models import PICKABLE_CHANNELS, LinkTarget, ShareLink, Sharer, SharerStatus
from distribution.sharing import link_for
from shop.catalog.models import Product
from shop.errors import InvalidInput
from shop.extensions import db
from shop.i18n import localized
from shop.members.models import CouponTemplate


def shareable_coupons() -> list[tuple[int, str]]:
    """Coupon templates customers may claim through a link (active and claimable): id and
    name in the reader's language."""
    rows = db.session.execute(
        select(CouponTemplate.id, CouponTemplate.name, CouponTemplate.name_en)
        .where(CouponTemplate.active.is_(True), CouponTemplate.claimable.is_(True))
        .order_by(CouponTemplate.id)
    )
    return sorted(((row.id, localized(row)) for row in rows), key=lambda pair: pair[1])


def parse_target(raw: str | None) -> tuple[str, int]:
    """``"home"``, ``"product:<id>"`` of an active product or ``"coupon:<id>"`` of a
    claimable coupon template; raises InvalidInput."""
    text = (raw or "").strip()
    if text == LinkTarget.HOME:
        return LinkTarget.HOME, 0
    kind, _sep, number = text.partition(":")
    if number.isdecimal() and len(number) <= 10:
        if kind == LinkTarget.PRODUCT:
            found = db.session.scalar(
                select(Product.id).where(Product.id == int(number), Product.active.is_(True))
            )
        elif kind == LinkTarget.COUPON:
            found = next((i for i, _n in shareable_coupons() if i == int(number)), None)
        else:
            found = None
        if found is not None:
            return kind, found
    raise InvalidInput(_("That product does not exist."))


def make_link(sharer: Sharer, target: str | None, channel: str | None) -> ShareLink:
    """The sharer's link to a target on a channel: the existing one, or a new one.

    Two taps at once may both try to insert it; the unique constraint keeps one, and the
    loser reads the winner's row."""
    if sharer.status != SharerStatus.ACTIVE:
        raise InvalidInput(_("Only an active guide or promoter can make share links."))
    if channel not in PICKABLE_CHANNELS:
        raise InvalidInput(_("Choose where you will share the link."))
    target_type, target_id = parse_target(target)
    try:
        return link_for(sharer, target_type, target_id, channel)
    except IntegrityError:
        db.session.rollback()
        return link_for(sharer, target_type, target_id, channel)
