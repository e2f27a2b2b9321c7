"""Checkout's own database floor: the exact statements one order placement sends, replayed by
pgbench with the bench's clients.

``record_placement`` places one order through the app (POST /checkout, as wrk does: buy now,
pick-up, pay at store, a new customer) in the bench process, with a SQLAlchemy
``before_cursor_execute`` listener, and keeps every statement with its parameters, grouped by
transaction (BEGIN ... COMMIT, savepoints included), and the rows each ``RETURNING`` gave.
That is all the database work the request did: the order's transaction, its events handed to
RQ after the commit (REDIS_URL set, as the measured shop runs), none delivered in the request.

``pgbench_script`` writes them as one pgbench script, one run of it per placement:

- values of unique columns (an order's token and idempotency key, the phone of the new
  customer, outbox and webhook keys) are made unique per run, their length kept:
  ``left(:uniq || 'value', n)``, or for a value shorter than ``uniq`` (the new customer's
  11-digit phone, an order's 8-digit pick-up code) ``'F' || right(:uniq, n - 1)``, a letter no
  phone or code the shop makes has.
  ``uniq`` is 12 digits counted per client (``n``, which the caller starts with
  ``--define=n=...``, a different start for each pgbench call on the same database, plus the
  client's id), never drawn at random: 10,000 random 8-digit codes collide one run in three;
- an id that an ``INSERT ... RETURNING`` gave (the order's, the customer's, an outbox row's) is
  kept with ``\\gset`` and used where the recording used it (``order_id``, ``customer_id``,
  the ``id`` of the row a later statement updates), so runs do not write over each other's rows;
- everything else is the recorded literal, and the stock decrement hits the same variant, as
  checkout's does.

pgbench runs it with prepared statements (psycopg prepares a statement the app repeats, too).
Its runs per second are the placements per second the database alone allows: the floor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
UNIQ_FROM = 100_000_000_000  # uniq has its 12 digits from the first run on
UNIQ_CLIENTS = 64  # at most this many pgbench clients
SUFFIX = re.compile(r"(_m\d+|_\d+)$")
TABLE = re.compile(r"^\s*(?:INSERT INTO|UPDATE|SELECT\s.*?\sFROM|DELETE FROM)\s+(\w+)", re.S | re.I)


@dataclass
class Sent:
    statement: str
    params: dict
    returned: list[tuple] = field(default_factory=list)


def record_placement(app, form: dict[str, str]) -> list[list[Sent]]:
    """Statements of one POST /checkout with ``form``, by transaction (needs a 303)."""
    from sqlalchemy import event
    from sqlalchemy.engine.interfaces import ExecuteStyle

    from shop.extensions import db

    with app.app_context():
        engine = db.engine
    transactions: list[list[Sent]] = []

    def begin(_conn):
        transactions.append([])

    def before(_conn, _cursor, statement, params, context, many):
        # An "insertmanyvalues" batch (the outbox's rows of a topic with several handlers) is
        # one statement with all rows' parameters: recorded as it is sent.
        if many and context.execute_style is not ExecuteStyle.INSERTMANYVALUES:
            raise RuntimeError("an executemany in checkout: record each parameter set")
        if not transactions:
            transactions.append([])
        transactions[-1].append(Sent(statement, dict(params or {})))

    def after(_conn, cursor, statement, *_args):
        if re.search(r"\bRETURNING\b", statement) and cursor.description is not None:
            transactions[-1][-1].returned = cursor.fetchall()
            cursor.scroll(0, mode="absolute")  # the app reads them as if untouched

    listeners = (("begin", begin), ("before_cursor_execute", before))
    listeners += (("after_cursor_execute", after),)
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        response = app.test_client().post("/checkout", data=form)
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)
    if response.status_code != 303 or "/o/" not in response.headers.get("Location", ""):
        raise RuntimeError(f"recording a placement: {response.status_code}")
    return [sent for sent in transactions if sent]


def _unique_columns(metadata) -> dict[str, set[str]]:
    unique: dict[str, set[str]] = {}
    for table in metadata.tables.values():
        names = {column.name for column in table.columns if column.unique}
        for constraint in table.constraints:
            if constraint.__class__.__name__ == "UniqueConstraint" and len(constraint.columns) == 1:
                names.update(column.name for column in constraint.columns)
        for index in table.indexes:
            if index.unique and len(index.columns) == 1:
                names.update(column.name for column in index.columns)
        unique[table.name] = names
    return unique


def _singular(table: str) -> str:
    return table[:-1] if table.endswith("s") else table


def _safe(literal: str) -> str:
    """A SQL literal pgbench leaves alone: it reads ``:name`` even inside quotes, so a quoted
    string with one is cut there and joined again (``'a:' || 'b'``)."""
    if not re.search(r":[A-Za-z_]", literal):
        return literal
    return re.sub(
        r"'(?:[^']|'')*'",
        lambda quoted: "(" + re.sub(r":(?=[A-Za-z_])", ":' || '", quoted.group(0)) + ")",
        literal,
    )


def pgbench_script(transactions: list[list[Sent]], metadata, literal) -> str:
    """The pgbench script replaying ``transactions`` once per run. ``literal(value)`` renders
    a value as SQL (psycopg's ``sql.Literal`` on a connection)."""
    unique = _unique_columns(metadata)
    kept: dict[tuple[str, int], str] = {}  # (table, id an INSERT ... RETURNING gave) -> variable
    lines = ["\\set n :n + 1", f"\\set uniq {UNIQ_FROM} + :n * {UNIQ_CLIENTS} + :client_id"]

    def value_sql(table: str | None, name: str, value) -> str:
        column = SUFFIX.sub("", name)
        if isinstance(value, int) and not isinstance(value, bool):
            owner = None
            if column.endswith("_id"):
                owner = next((t for t, _ in kept if _singular(t) == column[:-3]), None)
            elif column in ("id", "pk"):
                owner = table
            if (owner, value) in kept:
                return f":{kept[owner, value]}"
        if isinstance(value, str) and table and column in unique.get(table, ()):
            if len(value) < len(str(UNIQ_FROM)):
                return f"('F' || right(:uniq::text, {len(value) - 1}))"
            return f"left(:uniq::text || {_safe(literal(value))}, {len(value)})"
        return _safe(literal(value))

    for sent_list in transactions:
        lines.append("BEGIN;")
        for sent in sent_list:
            match = TABLE.match(sent.statement)
            table = match.group(1) if match else None

            def substitute(found, sent=sent, table=table):
                if found.group(0) == "%%":
                    return "%"
                name = found.group(1)
                return value_sql(table, name, sent.params[name])

            sql = PLACEHOLDER.sub(substitute, sent.statement)
            lines.append(" ".join(sql.split()) + ";")
            if (
                table
                and len(sent.returned) == 1
                and re.search(rf"RETURNING {table}\.id$", sent.statement.strip())
            ):
                prefix = f"r{len(kept)}_"
                lines.append(f"\\gset {prefix}")
                kept[table, sent.returned[0][0]] = prefix + "id"
        lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def write_script(app, form: dict[str, str], database_url: str, path: Path) -> int:
    """Record one placement and write its pgbench script to ``path``; returns the number of
    statements it sends (BEGIN and COMMIT not counted)."""
    import psycopg
    from psycopg import sql

    from shop.extensions import db

    transactions = record_placement(app, form)
    with psycopg.connect(database_url) as conn:

        def literal(value) -> str:
            if hasattr(value, "value") and isinstance(value, str):
                value = str(value.value)  # a StrEnum
            return sql.Literal(value).as_string(conn)

        path.write_text(pgbench_script(transactions, db.metadata, literal), encoding="utf-8")
    return sum(len(sent) for sent in transactions)
