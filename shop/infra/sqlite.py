"""SQLite settings for the embedded default: WAL, foreign keys, waiting instead of failing.

Writers wait for each other rather than fail. In WAL mode a transaction that has read holds a
snapshot, and if another connection commits before it writes, its first write fails at once
with "database is locked": the busy timeout does not apply to a stale snapshot. Python's
sqlite3 runs reads outside any transaction and begins one (deferred) just before the first
INSERT, UPDATE or DELETE, but SQLAlchemy's savepoints (``begin_nested``) begin one before any
read. So a transaction that is going to write begins ``IMMEDIATE`` here: it takes the write
lock before anything else, waiting for another writer's commit if need be. Pages that only
read begin no transaction and never wait for a writer.
"""

import re

from sqlalchemy import event

# The statements that begin a transaction on this connection: a write, or a savepoint.
_BEGINS_WRITING = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT)\b", re.IGNORECASE)


def enable_sqlite_pragmas(engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_immediate(conn, cursor, statement, _parameters, _context, _executemany):
        dbapi_connection = cursor.connection
        if (
            dbapi_connection.isolation_level is not None  # None: autocommit, one statement
            and not dbapi_connection.in_transaction
            and _BEGINS_WRITING.match(statement)
        ):
            cursor.execute("BEGIN IMMEDIATE")
