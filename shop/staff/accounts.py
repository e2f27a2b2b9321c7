"""Staff accounts as an owner manages them: the rules any entry point obeys (the admin's staff
page, the ``create-admin`` command, an API)."""

from __future__ import annotations

from flask_babel import gettext as _

from shop.errors import InvalidInput
from shop.staff import audit
from shop.staff.models import Role, Staff


def save_account(account: Staff, password: str | None, by: Staff) -> None:
    """Check an account ``by`` makes or changes, and set its new password (hashed; audited as
    ``staff.password`` on an existing account). The e-mail address is kept lower-case; a store
    manager has at least one store; no one removes their own owner role or deactivates
    themselves; a new account gets a password. Raises ``InvalidInput``. Does not commit."""
    account.email = (account.email or "").strip().lower()
    if "@" not in account.email:
        raise InvalidInput(_("Enter a valid e-mail address."))
    if account.role == Role.MANAGER and not account.stores:
        raise InvalidInput(_("A store manager needs at least one store."))
    if account.id == by.id and (account.role != Role.OWNER or not account.active):
        raise InvalidInput(_("You cannot remove your own owner role or deactivate yourself."))
    if not password:
        if account.id is None:
            raise InvalidInput(_("Set a password for the new account."))
        return
    account.set_password(password)
    if account.id is not None:
        audit.record(by, "staff.password", account, after={"password": "changed"})
