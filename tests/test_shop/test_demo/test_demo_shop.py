"""The demo shop a new user sees: both languages, pictures that look like products, reviews,
and commission ready for a payout."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select

from distribution.commission import balances
from distribution.models import Sharer
from shop.catalog.models import Category, Product, ProductImage, Review, ReviewStatus, Store
from shop.demo.pictures import DRAWINGS, SIZE, product_picture
from shop.extensions import db
from shop.members.models import MemberTier


def test_every_drawing_is_a_distinct_square_picture():
    seen = set()
    for kind in DRAWINGS:
        data = product_picture(kind, (120, 80, 60))
        with Image.open(io.BytesIO(data)) as image:
            assert (image.format, image.size) == ("JPEG", (SIZE, SIZE)), kind
            colours = image.convert("RGB").getcolors(maxcolors=SIZE * SIZE)
        assert len(colours) > 50, kind  # a drawing with shading, not a flat square
        seen.add(data)
    assert len(seen) == len(DRAWINGS)


def test_demo_shop_is_bilingual_with_pictures_reviews_and_settled_commission(runner, ctx):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output

    for model in (Product, Category, Store, MemberTier):
        rows = db.session.scalars(select(model)).all()
        assert rows, model
        for row in rows:
            assert row.name and row.name_en and row.name != row.name_en, row
            assert any("\u4e00" <= ch <= "\u9fff" for ch in row.name), row  # Chinese
    for product in db.session.scalars(select(Product)):
        assert product.images and product.description_html and product.description_html_en
    assert db.session.scalar(select(func.count(ProductImage.id))) > len(DRAWINGS)

    approved = db.session.scalar(
        select(func.count(Review.id)).where(Review.status == ReviewStatus.APPROVED)
    )
    assert approved >= 3

    settled = [
        balances(sharer.id).get("settled", 0) for sharer in db.session.scalars(select(Sharer))
    ]
    assert any(amount > 0 for amount in settled), settled

    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0, verify.output
