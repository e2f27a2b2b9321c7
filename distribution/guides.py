"""Guides: store employees who sell through their own links, each with a sign-in to /guide.

``add_guide`` is how any entry point (the admin, an import, an API) adds one: a guide belongs
to a store and gets their own login, a staff account of role guide for that store, made in the
same transaction and audited. ``tidy_sharer`` keeps a sharer's phone in canonical form.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update

from distribution import sharing
from distribution.models import Binding, BindingState, Sharer, SharerKind, SharerStatus
from distribution.topics import GuideChange
from shop.customers.phones import normalize_phone
from shop.errors import AlreadyTaken, InvalidInput, InvalidTransition
from shop.extensions import db
from shop.infra.clock import utcnow
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


def transfer_customers(from_sharer: Sharer, to_sharers: list[Sharer], staff=None) -> int:
    """A guide leaves: move their open bindings to another guide (or round-robin over several).

    Old bindings end with reason "transferred" and new ones start for the receiving guide, so
    history keeps who brought whom. Returns the number of bindings moved. Raises
    ``InvalidTransition`` for a sharer who is not an active guide. Does not commit.
    """
    from shop.staff import audit

    if from_sharer.kind != SharerKind.GUIDE or from_sharer.status != SharerStatus.ACTIVE:
        raise InvalidTransition(_("%(name)s is not an active guide.", name=from_sharer.name))
    if not to_sharers:
        raise ValueError("no guide to transfer to")
    now = utcnow()
    rules = sharing.settings()
    moved = 0
    open_bindings = list(
        db.session.scalars(
            select(Binding)
            .where(Binding.sharer_id == from_sharer.id, Binding.active.is_(True))
            .order_by(Binding.id)
        )
    )
    for index, old in enumerate(open_bindings):
        heir = to_sharers[index % len(to_sharers)]
        old.active = False
        old.ended_reason = BindingState.TRANSFERRED
        protected_until, valid_until = sharing.periods(rules, now)
        db.session.add(
            Binding(
                visitor_id=old.visitor_id,
                customer_id=old.customer_id,
                sharer_id=heir.id,
                link_id=None,
                bound_at=now,
                touched_at=now,
                protected_until=protected_until,
                valid_until=valid_until,
            )
        )
        if old.customer_id is not None:
            sharing.announce_guide_change(
                old.customer_id, from_sharer.id, heir.id, GuideChange.TRANSFERRED, now
            )
        moved += 1
    db.session.execute(
        update(Sharer).where(Sharer.id == from_sharer.id).values(status=SharerStatus.LEFT)
    )
    if from_sharer.staff is not None:
        from_sharer.staff.active = False
    audit.record(
        staff,
        "guide.leave",
        from_sharer,
        object_type="Sharer",
        before={"status": from_sharer.status},
        after={
            "status": SharerStatus.LEFT,
            "bindings_moved": moved,
            "to": [s.id for s in to_sharers],
        },
        store_id=from_sharer.store_id,
    )
    return moved
