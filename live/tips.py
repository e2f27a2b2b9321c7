"""Tips for a session's host guide: off by default, switched on by staff (the shop's setting,
or per session); preset amounts only; paid as orders are (Stripe Checkout, confirmed by the
shop's Stripe webhook); an adult-confirmation before a customer's first tip (recorded once per
customer); never shown publicly with an amount, never ranked; refundable by staff.

The host's money is a commission ledger entry of its own kind (``EntryKind.TIP``): +amount in
the settled bucket when the tip is paid (the customer gave it; it is not a sale that may be
returned), -amount there if staff refund it, netted by the next payout like any reversal after
settlement. Each entry's key names its tip, so a webhook delivered twice writes it once.

Services do not commit, except ``checkout_url`` and ``refund``, which call Stripe with nothing
locked: the intent is committed first, the gateway is called with an idempotency key, and the
result is applied in a transaction of its own.
"""

from __future__ import annotations

import logging
from datetime import UTC

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from distribution.models import Bucket, CommissionEntry, EntryKind
from live import services
from live.models import AdultConfirmation, LiveSession, LiveTip, SessionStatus, TipStatus
from shop.errors import InvalidInput, InvalidTransition, PaymentError
from shop.extensions import db
from shop.infra.clock import utcnow
from shop.payments import stripe_gateway

log = logging.getLogger(__name__)

PURPOSE = "live_tip"
DEFAULT_AMOUNTS = (600, 1800, 6600, 18800)


class TipsOff(InvalidInput):
    code = "live_tips_off"


class AdultConfirmationNeeded(InvalidInput):
    code = "live_adult_confirmation"


def amounts() -> tuple[int, ...]:
    """The preset amounts, in minor units (``LIVE_TIP_AMOUNTS``)."""
    return tuple(current_app.config.get("LIVE_TIP_AMOUNTS") or DEFAULT_AMOUNTS)


def tips_on(session: LiveSession) -> bool:
    """Staff's choice for the session, else the shop's setting (off by default)."""
    if session.tips is not None:
        return session.tips
    return bool(services.settings().tips_enabled)


def payable() -> bool:
    """Tips are paid online only (Stripe Checkout): without it the room offers none."""
    return stripe_gateway.enabled()


def has_confirmed_adult(customer_id: int | None) -> bool:
    return customer_id is not None and (
        db.session.scalar(
            select(AdultConfirmation.id).where(AdultConfirmation.customer_id == customer_id)
        )
        is not None
    )


def start_tip(session: LiveSession, customer, amount: int, *, adult: bool = False) -> LiveTip:
    """A tip awaiting payment, once every rule allows it (else a ``ShopError`` saying why,
    and nothing is written). ``adult``: the customer ticked the adult-confirmation, recorded
    with their first tip. Does not commit."""
    if not tips_on(session):
        raise TipsOff(_("Tips are off for this session."))
    if session.status not in (SessionStatus.LIVE, SessionStatus.PAUSED):
        raise InvalidTransition(_("Tips are taken while the session is live."))
    if session.host_id is None:
        raise InvalidInput(_("This session has no host to tip."))
    if customer is None:
        raise InvalidInput(_("Sign in to send a tip."))
    if amount not in amounts():
        raise InvalidInput(_("Choose one of the tip amounts."))
    if not payable():
        raise PaymentError(_("Online payment is unavailable right now. Please try again."))
    if not has_confirmed_adult(customer.id):
        if not adult:
            raise AdultConfirmationNeeded(_("Please confirm that you are 18 or older to tip."))
        db.session.add(AdultConfirmation(customer_id=customer.id))
    tip = LiveTip(
        session_id=session.id,
        host_id=session.host_id,
        customer_id=customer.id,
        amount=amount,
        currency=current_app.config["SHOP_CURRENCY"],
        status=TipStatus.PENDING,
    )
    db.session.add(tip)
    db.session.flush()
    return tip


def checkout_url(tip: LiveTip, room_url: str) -> str:
    """The tip's Stripe Checkout page (the order's payment path), made once per tip: the
    same key returns the same session. Commits the session id."""
    title = tip.session.title
    soonest = utcnow() + stripe_gateway.MIN_SESSION_LIFETIME
    expires_at = int(soonest.replace(tzinfo=UTC).timestamp())
    expires_at += 3600 - expires_at % 3600  # on the hour: the same key within the hour
    try:
        checkout = stripe_gateway.create_checkout_session(
            order_id=tip.id,
            currency=tip.currency,
            lines=[stripe_gateway.ChargedLine(_("Tip for %(title)s", title=title), 1, tip.amount)],
            success_url=room_url + "?tipped=1",
            cancel_url=room_url,
            expires_at=expires_at,
            idempotency_key=f"live-tip-{tip.id}-{expires_at}",
            purpose=PURPOSE,
        )
    except stripe_gateway.GatewayError as exc:
        log.warning("Stripe checkout for tip %s failed: %s", tip.id, exc)
        raise PaymentError(_("Online payment is unavailable right now. Please try again.")) from exc
    if tip.stripe_session_id != checkout.id:
        tip.stripe_session_id = checkout.id
        db.session.commit()
    return checkout.url


def receive_payment(checkout: dict) -> str:
    """The Stripe webhook's receiver for a paid tip (``purpose`` ``live_tip``): the tip is
    paid and the host's ledger gets its tip entry, once. Inside the webhook's transaction;
    does not commit."""
    ref = str((checkout.get("metadata") or {}).get("id") or "")
    tip = db.session.get(LiveTip, int(ref)) if ref.isdigit() and len(ref) < 10 else None
    if tip is None:
        return "unknown tip"
    if checkout.get("payment_status") not in ("paid", "no_payment_required"):
        return "awaiting async payment"
    if checkout.get("amount_total") != tip.amount:
        log.error("tip %s: paid %r, expected %s", tip.id, checkout.get("amount_total"), tip.amount)
        return "amount mismatch"
    done = db.session.execute(
        update(LiveTip)
        .where(LiveTip.id == tip.id, LiveTip.status == TipStatus.PENDING)
        .values(
            status=TipStatus.PAID,
            paid_at=utcnow(),
            stripe_payment_intent=checkout.get("payment_intent") or checkout.get("id"),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        return "already paid"
    _ledger(tip, f"tip:{tip.id}", tip.amount, "live tip")
    return "tip paid"


def _ledger(tip: LiveTip, key: str, amount: int, note: str) -> None:
    db.session.add(
        CommissionEntry(
            entry_key=key,
            sharer_id=tip.host_id,
            level=1,
            kind=EntryKind.TIP,
            bucket=Bucket.SETTLED,
            amount=amount,
            currency=tip.currency,
            note=f"{note} {tip.id} (session {tip.session_id})",
        )
    )
    db.session.flush()


def refund(tip_id: int) -> LiveTip:
    """Staff refund a paid tip in full: Stripe first (a stable idempotency key, nothing
    locked), then the tip and the host's ledger in one transaction. Commits."""
    from shop.infra.unit_of_work import unit_of_work

    tip = db.session.get(LiveTip, tip_id)
    if tip is None or tip.status != TipStatus.PAID:
        raise InvalidTransition(_("Only a paid tip can be refunded."))
    intent, amount = tip.stripe_payment_intent, tip.amount
    db.session.rollback()
    try:
        stripe_gateway.create_refund(
            payment_intent=intent,
            amount=amount,
            order_id=0,  # not an order's: the charge.refunded webhook finds no order for it
            idempotency_key=f"live-tip-{tip_id}",
        )
    except stripe_gateway.GatewayError as exc:
        raise PaymentError(_("The refund failed: %(reason)s", reason=str(exc))) from exc
    with unit_of_work():
        done = db.session.execute(
            update(LiveTip)
            .where(LiveTip.id == tip_id, LiveTip.status == TipStatus.PAID)
            .values(status=TipStatus.REFUNDED, refunded_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        tip = db.session.get(LiveTip, tip_id)
        if done:
            _ledger(tip, f"tip-refund:{tip_id}", -amount, "refund of live tip")
    return tip


def session_tips(session_id: int) -> dict:
    """The session report's tips: paid tips, their total net of refunds, refunds apart."""
    rows = dict(
        db.session.execute(
            select(LiveTip.status, func.count(LiveTip.id))
            .where(LiveTip.session_id == session_id)
            .group_by(LiveTip.status)
        ).all()
    )
    net = db.session.scalar(
        select(func.coalesce(func.sum(LiveTip.amount), 0)).where(
            LiveTip.session_id == session_id, LiveTip.status == TipStatus.PAID
        )
    )
    refunded = db.session.scalar(
        select(func.coalesce(func.sum(LiveTip.amount), 0)).where(
            LiveTip.session_id == session_id, LiveTip.status == TipStatus.REFUNDED
        )
    )
    return {
        "paid": rows.get(TipStatus.PAID, 0),
        "net": net or 0,
        "refunded": rows.get(TipStatus.REFUNDED, 0),
        "refunded_amount": refunded or 0,
    }
