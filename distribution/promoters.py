"""Promoters: customers who join the distribution programme, with the sharer who invited them.

A customer applies at /join with a phone number and a name, and optionally an invite code: the
code of any share link of an active guide or promoter, who becomes the parent (recruiter).
When the programme requires approval the promoter waits, pending, until staff approve.
Applying never reveals an existing promoter's personal link: a number already in the programme
gets a message, not the link (the phone number is not verified, anyone could type it).
"""

from __future__ import annotations

import secrets

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from distribution.levels import evaluate_level
from distribution.models import Sharer, SharerKind, SharerStatus
from distribution.sharing import find_link, settings
from shop.customers.models import Customer
from shop.customers.phones import normalize_phone
from shop.customers.topics import CustomerTopic
from shop.errors import InvalidInput
from shop.extensions import db
from shop.infra import outbox
from shop.staff import audit

MAX_NAME = 120


def inviter(code: str) -> Sharer | None:
    """The active sharer whose link code this is, or None."""
    link = find_link(code.strip())
    if link is None:
        return None
    sharer = db.session.get(Sharer, link.sharer_id)
    return sharer if sharer is not None and sharer.status == SharerStatus.ACTIVE else None


def issue_token(sharer: Sharer) -> str:
    """A new secret for the promoter's personal link; the old link (and its sessions) stop."""
    sharer.token = secrets.token_urlsafe(24)
    return sharer.token


def apply_as_promoter(phone: str, name: str, invite_code: str | None = None) -> Sharer:
    """Make the customer with this phone a promoter: active, or pending when approval is on.

    Raises ``InvalidInput`` (nothing written) for a bad phone or name, an invite code that
    names no active sharer, or a number already in the programme. Does not commit."""
    phone = normalize_phone(phone)
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Enter your name."))
    if len(name) > MAX_NAME:
        raise InvalidInput(_("The name is too long."))
    parent = None
    if invite_code and invite_code.strip():
        parent = inviter(invite_code)
        if parent is None:
            raise InvalidInput(_("This invite code matches no one: check it, or leave it empty."))
    already = _("This number is already in the programme: open your personal link.")
    customer = db.session.scalar(select(Customer).where(Customer.phone == phone))
    new_customer = customer is None
    if new_customer:
        customer = Customer(phone=phone, name=name)
        db.session.add(customer)
    elif db.session.scalar(select(Sharer.id).where(Sharer.customer_id == customer.id)):
        raise InvalidInput(already)
    sharer = Sharer(
        kind=SharerKind.PROMOTER,
        name=name,
        customer=customer,
        phone=phone,
        parent=parent,
        store_id=parent.store_id if parent else None,
        status=SharerStatus.PENDING if settings().promoter_approval else SharerStatus.ACTIVE,
    )
    issue_token(sharer)
    try:
        with db.session.begin_nested():  # the same number applied twice at once: one stands
            db.session.add(sharer)
    except IntegrityError:
        raise InvalidInput(already) from None
    if new_customer:
        outbox.publish(CustomerTopic.CREATED, customer.id, sharer.store_id)
    if parent is not None and sharer.status == SharerStatus.ACTIVE:
        evaluate_level(parent.id)  # one more invite may lift the recruiter
    return sharer


def approve_promoter(sharer: Sharer, staff) -> None:
    """Staff let a pending promoter in; recorded in the audit log. Does not commit."""
    if sharer.kind != SharerKind.PROMOTER or sharer.status != SharerStatus.PENDING:
        raise InvalidInput(_("Only a pending promoter can be approved."))
    sharer.status = SharerStatus.ACTIVE
    audit.record(
        staff,
        "promoter.approve",
        sharer,
        object_type="Sharer",
        before={"status": SharerStatus.PENDING},
        after={"status": SharerStatus.ACTIVE},
        store_id=sharer.store_id,
    )
    if sharer.parent_id:
        evaluate_level(sharer.parent_id)
