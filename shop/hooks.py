"""Extension points of one app: periodic sweeps, ledger checks, demo loaders, outbox handlers,
and the readers of the attribution a visitor carries in their session.

Each package registers its own in its ``init_app``; they live on the app (``app.extensions``),
never in module globals, so building the app twice (tests, a worker) registers nothing twice
and two apps in one process do not share them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from flask import Flask, current_app
from markupsafe import Markup


class Offered(NamedTuple):
    """Special prices offered now (``Hooks.price_offers``)."""

    prices: dict  # {variant_id: (unit_price, offer)}; an offer's ``label`` is shown beside it
    changes_at: datetime | None = None  # when they next change by time alone (None: not so)

    def units_left(self, variant) -> int:
        """How many of ``variant`` can be bought at the price offered for it: its stock, capped
        by the offer's own ``units_left`` when it has one (live: the session's cap)."""
        offer = self.prices[variant.id][1] if variant.id in self.prices else None
        cap = getattr(offer, "units_left", None)
        return variant.stock if cap is None else min(variant.stock, cap)


@dataclass
class Hooks:
    sweeps: dict[str, int] = field(default_factory=dict)
    """Job path (dotted) -> seconds between runs: on RQ by ``flask jobs cron``, else in-process."""
    ledger_checks: list[Callable[[], list[str]]] = field(default_factory=list)
    """Each returns the breaches it finds, as lines; ``flask ledger verify`` runs them all."""
    demo_loaders: list[Callable[[], list[str]]] = field(default_factory=list)
    """Run by ``flask demo-data`` after the demo shop; each returns lines to print."""
    reconcilers: list[Callable[[], list[str]]] = field(default_factory=list)
    """Each writes what its ledger check finds missing, once; ``flask ledger reconcile``."""
    handlers: dict[str, list[str]] = field(default_factory=dict)
    """Outbox topic -> job paths (dotted) that each get one event per publication."""
    attribution_readers: list[Callable[[Mapping], dict]] = field(default_factory=list)
    """Each returns the plain attribution values (``share_code``, ``live_session_id``) that its
    package left in the visitor's session, for checkout to capture into the order."""
    price_offers: list[Callable[[list, Mapping], Offered]] = field(default_factory=list)
    """Each gets variants and a buyer's attribution, and returns the special unit prices that
    apply to some of them right now and when those next change by time alone (``Offered``;
    live: the live price while the session is live plus its grace, within the shelf item's
    window). An offer may say how many units it still has at its price (``units_left``; live:
    the session's cap), how many one customer may buy at it (``limit``), and a ``note`` shown
    with its label (live: the per-customer limit).
    Read at every quote and at every render of the product page, so a
    price charged is never a copy; a price counts only where it is the lowest
    (``offered_prices``). Registered with its ``price_states`` entry (``register_price_offer``)."""
    price_states: list[Callable[[Mapping], str]] = field(default_factory=list)
    """Each returns the part of a visitor's attribution that decides the prices its
    ``price_offers`` entry gives them (live: the session they came from), as a short key, ""
    when none: a page showing prices is kept once per product, language and such state."""
    page_models: list[type] = field(default_factory=list)
    """Models whose rows a page kept for everyone shows, beyond the catalog's (live: shelf
    items, whose live prices the product page shows): a change to one through the ORM retires
    the kept pages when it commits (``shop.web.pagecache``)."""
    page_blocks: dict[str, list[Callable[..., str]]] = field(default_factory=dict)
    """Page name (``"home"``) -> functions returning HTML blocks its template shows (live: the
    sessions live now or starting soon), given what the template passes (``"order"``: the
    order); a block with nothing to show returns ""."""
    order_claims: list[Callable[[object, list], None]] = field(default_factory=list)
    """Each takes, inside the order's transaction, what the order's offers hold beyond stock
    (live: the session's units, the buyer's limit); raising a ``ShopError`` refuses the order
    and nothing is written."""
    payment_receivers: dict[str, Callable[[dict], str]] = field(default_factory=dict)
    """Stripe Checkout ``metadata.purpose`` -> the function that applies a paid session that
    is not an order's (live: a tip), inside the webhook's transaction; returns the outcome."""
    personal_parts: dict[str, Callable[..., str]] = field(default_factory=dict)
    """Part name -> function returning one visitor's HTML for it (``{{ personal("name", ...)
    }}`` in a template): what a page shared by every visitor leaves open for each
    (``shop.web.pagecache``). A package may replace a part the shop registered (distribution:
    the share button of a signed-in guide). A part nobody registered renders nothing."""
    store_finders: list[Callable[[Mapping], int | None]] = field(default_factory=list)
    """Each returns the store of whoever brought a visitor (given the carried attribution
    values, ``visitor_id`` and ``customer_id``), or None: distribution answers with the store
    of the guide whose link bound them."""
    stopping: list[Callable[[], None]] = field(default_factory=list)
    """Each ends, without waiting, what would keep a stopping web process from finishing its
    requests (live: the rooms' event streams, which browsers then reopen on another process);
    called, inside the signal handler, when the server tells the process to stop
    (``shop.infra.gunicorn_config``): it may only wake threads, never start one or wait."""


def init_app(app: Flask) -> None:
    app.extensions["siyu_hooks"] = Hooks()
    app.jinja_env.globals["page_blocks"] = page_blocks


def hooks(app: Flask | None = None) -> Hooks:
    return (app or current_app).extensions["siyu_hooks"]


def register_stopping(app: Flask, end: Callable[[], None]) -> None:
    hooks(app).stopping.append(end)


def register_sweep(app: Flask, path: str, every_seconds: int) -> None:
    hooks(app).sweeps[path] = every_seconds


def register_ledger_check(app: Flask, check: Callable[[], list[str]]) -> None:
    hooks(app).ledger_checks.append(check)


def register_handler(app: Flask, topic: str, path: str) -> None:
    """``path(*args)`` runs, through the outbox, for every ``publish(topic, *args)``."""
    handlers = hooks(app).handlers.setdefault(topic, [])
    if path not in handlers:
        handlers.append(path)


def register_reconciler(app: Flask, reconcile: Callable[[], list[str]]) -> None:
    hooks(app).reconcilers.append(reconcile)


def register_personal_part(app: Flask, name: str, part: Callable[..., str]) -> None:
    hooks(app).personal_parts[name] = part


def register_demo_loader(app: Flask, loader: Callable[[], list[str]]) -> None:
    hooks(app).demo_loaders.append(loader)


def register_attribution_reader(app: Flask, reader: Callable[[Mapping], dict]) -> None:
    hooks(app).attribution_readers.append(reader)


def register_price_offer(
    app: Flask, offer: Callable[[list, Mapping], Offered], state: Callable[[Mapping], str]
) -> None:
    """``offer``'s prices for a visitor depend on ``state(attribution)`` alone: the product
    page is kept once per such state, so a price never shows to a visitor it is not for."""
    hooks(app).price_offers.append(offer)
    hooks(app).price_states.append(state)


def register_page_model(app: Flask, model: type) -> None:
    hooks(app).page_models.append(model)


def register_order_claim(app: Flask, claim: Callable[[object, list], None]) -> None:
    hooks(app).order_claims.append(claim)


def register_page_block(app: Flask, page: str, block: Callable[..., str]) -> None:
    hooks(app).page_blocks.setdefault(page, []).append(block)


def page_blocks(page: str, **context) -> list[Markup]:
    """The HTML blocks the packages add to ``page`` (templates: ``page_blocks("home")``,
    ``page_blocks("order", order=order)``), each given ``context``."""
    return [
        Markup(html) for block in hooks().page_blocks.get(page, []) if (html := block(**context))
    ]


def carried_attribution(session: Mapping) -> dict:
    """The plain attribution values the visitor's session carries, from every package that
    left some (distribution: the share link opened). Empty when none did."""
    values: dict = {}
    for reader in hooks().attribution_readers:
        values.update(reader(session))
    return values


def offer_wins(price: int, variant, now: datetime | None = None) -> bool:
    """Whether a special price counts for ``variant``: the lowest price wins, so only where it
    is below the variant's own price now (regular or limited-time). Coming from a live session
    never makes a buyer pay more, and the units an offer holds back (a session's cap) are
    taken only by those who buy at its price."""
    return price < variant.current_price(now)


def offered_prices(variants: list, attribution: Mapping) -> Offered:
    """The special prices the packages offer these variants right now, for a visitor carrying
    ``attribution`` (checkout's quote and the product page alike), where they win
    (``offer_wins``; of two offers, the lower), and when the offers next change by time alone
    (the variants' own limited-time windows are the catalog's: ``next_price_change``)."""
    by_id = {variant.id: variant for variant in variants}
    prices: dict = {}
    moments = []
    for offer in hooks().price_offers:
        offered = offer(variants, attribution)
        for variant_id, (price, what) in offered.prices.items():
            variant = by_id.get(variant_id)
            beaten = variant_id in prices and prices[variant_id][0] <= price
            if variant is not None and not beaten and offer_wins(price, variant):
                prices[variant_id] = (price, what)
        if offered.changes_at is not None:
            moments.append(offered.changes_at)
    return Offered(prices, min(moments, default=None))


def price_state(attribution: Mapping) -> str:
    """What of ``attribution`` decides the visitor's special prices ("" for the plain ones)."""
    return "|".join(key for state in hooks().price_states if (key := state(attribution)))


def register_payment_receiver(app: Flask, purpose: str, receiver: Callable[[dict], str]) -> None:
    hooks(app).payment_receivers[purpose] = receiver


def register_store_finder(app: Flask, finder: Callable[[Mapping], int | None]) -> None:
    hooks(app).store_finders.append(finder)


def sharer_store(values: Mapping) -> int | None:
    """The store of whoever brought this visitor, from the first store finder that knows one."""
    for finder in hooks().store_finders:
        store_id = finder(values)
        if store_id is not None:
            return store_id
    return None
