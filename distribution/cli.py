"""``flask --app wsgi commission settle``: settle pending commission past the return window."""

import click

from distribution.commission import settle_due_commissions


@click.group("commission")
def commission() -> None:
    """Commission ledger jobs."""


@commission.command("settle")
def settle() -> None:
    click.echo(f"{settle_due_commissions()} commission lines settled.")


def init_app(app) -> None:
    app.cli.add_command(commission)
