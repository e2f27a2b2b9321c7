"""``flask --app wsgi api-keys create|list|revoke``: API keys from the command line."""

from __future__ import annotations

import click
from sqlalchemy import select

from shop.api import keys
from shop.api.models import ApiKey, Scope
from shop.errors import ShopError
from shop.extensions import db
from shop.infra.unit_of_work import unit_of_work


def init_app(app) -> None:
    app.cli.add_command(api_keys)


@click.group("api-keys")
def api_keys() -> None:
    """Keys other systems call the API with."""


@api_keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice([s.value for s in Scope]),
    help="Repeat for several; a :write scope includes its :read.",
)
@click.option("--store", "stores", multiple=True, type=int, help="Pin to a store id (repeat).")
@click.option("--rate", default=2, show_default=True, help="Requests per second refilled.")
@click.option("--burst", default=40, show_default=True, help="Requests allowed at once.")
def create(name: str, scopes: tuple[str, ...], stores: tuple[int, ...], rate: int, burst: int):
    """Make a key; its secret is printed once and never again."""
    try:
        with unit_of_work():
            key, secret = keys.create_key(
                name, list(scopes), store_ids=list(stores), rate_per_second=rate, burst=burst
            )
    except ShopError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Key {key.id} ({key.name}) with {', '.join(key.scopes)}.")
    click.echo("Its secret, shown only now:")
    click.echo(secret)


@api_keys.command("list")
def list_keys() -> None:
    """Every key: prefix, name, scopes, stores, last use, revoked."""
    for key in db.session.scalars(select(ApiKey).order_by(ApiKey.id)):
        click.echo(
            f"{key.id}\t{key.prefix}\t{key.name}\t{','.join(key.scopes)}\t"
            f"stores={','.join(map(str, key.store_ids)) or 'all'}\t"
            f"last_used={key.last_used_at or '-'}\t"
            f"{'revoked' if key.revoked_at else 'active'}"
        )


@api_keys.command("revoke")
@click.argument("key_id", type=int)
def revoke(key_id: int) -> None:
    """Revoke a key: it authenticates nothing from now on."""
    with unit_of_work():
        done = keys.revoke(key_id)
    click.echo("Revoked." if done else "No active key with that id.")
