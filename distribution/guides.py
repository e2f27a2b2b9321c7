"""Guides: store employees who sell through their own links, each with a sign-in to /guide.

``add_guide`` is how any entry point (the admin, an import, an API) adds one: a guide belongs
to a store and gets their own login, a staff account of role guide for that store, made in the
same transaction and audited. ``tidy_sharer`` keeps a sharer's phone in canonical form.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from distribution.models import Sharer, SharerKind, SharerStatus
from shop.customers.phones import normalize_phone
from shop.errors import AlreadyTaken, InvalidInput
from shop.extensions import db
from shop.staff import audit
from shop.staff.models import Role, Staff


def tidy_sharer(sharer: Sharer) -> None:
    """Keep the sharer's phone in canonical form ("" for none). Raises ``InvalidInput`` for
    text that is no phone number."""
    sharer.phone = normalize_phone(sharer.phone) if sharer.phone else ""


def add_guide(guide: Sharer, email: str, password: str, staff) -> Staff:
    """Make a new sharer (its name, store, phone and level set) an active guide with a sign-in:
    a staff account of role guide for the guide's store, audited as ``staff.create``.

    Raises ``InvalidInput`` (no store, no valid e-mail address, no password) or
    ``AlreadyTaken`` (the address has a sign-in already); nothing is added then. Flushes, does
    not commit."""
    tidy_sharer(guide)
    if guide.store is None:
        raise InvalidInput(_("A guide belongs to a store."))
    email = (email or "").strip().lower()
    if "@" not in email:
        raise InvalidInput(_("Enter a valid e-mail address."))
    with db.session.no_autoflush:
        taken = db.session.scalar(select(Staff.id).where(Staff.email == email))
    if taken:
        raise AlreadyTaken(_("This e-mail address already has a sign-in."))
    if not password:
        raise InvalidInput(_("Set a password for the guide's sign-in."))
    login = Staff(email=email, name=guide.name, role=Role.GUIDE)
    login.stores = [guide.store]
    login.set_password(password)
    db.session.add(login)
    guide.kind, guide.status, guide.staff = SharerKind.GUIDE, SharerStatus.ACTIVE, login
    db.session.flush()
    audit.record(
        staff,
        "staff.create",
        login,
        after={"email": login.email, "role": Role.GUIDE.value, "store_ids": [guide.store.id]},
        store_id=guide.store.id,
    )
    return login
