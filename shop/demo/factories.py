"""Plain factory functions: used by the tests and by the demo-data command."""

from __future__ import annotations

import io
import itertools
import re

from PIL import Image, ImageDraw

from shop.catalog import images, stock
from shop.catalog.models import Category, Product, ProductImage, StockReason, Store, Variant
from shop.catalog.sanitize import clean_html
from shop.demo import pictures
from shop.extensions import db
from shop.staff.models import Role, Staff

_seq = itertools.count(1)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or f"item-{next(_seq)}"


def make_store(
    name: str = "", city: str = "Shanghai", address: str = "", *, name_en: str = ""
) -> Store:
    store = Store(name=name or f"Store {next(_seq)}", name_en=name_en, city=city, address=address)
    db.session.add(store)
    db.session.flush()
    return store


def make_category(
    name: str = "",
    position: int = 0,
    *,
    name_en: str = "",
    description: str = "",
    description_en: str = "",
) -> Category:
    """``name`` is the Chinese name, ``name_en`` the English one (``shop.i18n``)."""
    name = name or f"Category {next(_seq)}"
    category = Category(
        name=name,
        name_en=name_en,
        description=description,
        description_en=description_en,
        slug=f"{slugify(name_en or name)}-{next(_seq)}",
        position=position,
    )
    db.session.add(category)
    db.session.flush()
    return category


def make_product(
    name: str = "",
    *,
    price: int = 9900,
    stock_qty: int = 10,
    variants=None,
    category: Category | None = None,
    store: Store | None = None,
    description: str = "",
    slug: str | None = None,
    name_en: str = "",
    description_en: str = "",
) -> Product:
    """A product with variants; ``variants`` is a list of (name, price, stock) tuples, or
    (name, price, stock, English name).
    ``name`` and ``description`` are the Chinese texts, ``name_en`` and ``description_en`` the
    English ones (``shop.i18n``).

    Initial stock is entered through a stock movement so the stock ledger balances.
    """
    name = name or f"Product {next(_seq)}"
    product = Product(
        name=name,
        name_en=name_en,
        slug=slug or f"{slugify(name_en or name)}-{next(_seq)}",
        category=category,
        store=store,
        description_html=clean_html(description),
        description_html_en=clean_html(description_en),
    )
    db.session.add(product)
    for position, (vname, vprice, vstock, *english) in enumerate(
        variants or [("", price, stock_qty)]
    ):
        variant = Variant(
            product=product,
            sku=f"SKU-{next(_seq):05d}",
            name=vname,
            name_en=english[0] if english else "",
            price=vprice,
            stock=0,
            position=position,
        )
        db.session.add(variant)
        db.session.flush()
        if vstock:
            stock.change_stock(variant.id, vstock, StockReason.INITIAL)
    db.session.flush()
    db.session.refresh(product)
    return product


def make_staff(
    email: str, password: str, role: str = Role.OWNER, stores=(), name: str = ""
) -> Staff:
    staff = Staff(email=email.lower(), name=name or email.split("@")[0], role=role)
    staff.set_password(password)
    staff.stores = list(stores)
    db.session.add(staff)
    db.session.flush()
    return staff


def make_picture(
    product: Product, kind: str, colour: tuple[int, int, int], backdrop=None, position: int = 0
) -> ProductImage:
    """A drawn picture of the product (``shop.demo.pictures``), stored like an uploaded one."""
    image = ProductImage(
        product=product,
        filename=images.store_image(pictures.product_picture(kind, colour, backdrop)),
        position=position,
    )
    db.session.add(image)
    db.session.flush()
    return image


def make_image(product: Product, color: tuple[int, int, int], label: str = "") -> ProductImage:
    """A generated picture (solid colour with a label), stored like an uploaded one."""
    picture = Image.new("RGB", (800, 800), color)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((60, 60, 740, 740), outline=(255, 255, 255), width=12)
    draw.text((100, 380), (label or product.name)[:30], fill=(255, 255, 255))
    buf = io.BytesIO()
    picture.save(buf, "PNG")
    image = ProductImage(product=product, filename=images.store_image(buf.getvalue()))
    db.session.add(image)
    db.session.flush()
    return image
