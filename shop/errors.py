"""Domain errors: the one root, ``ShopError``, for every business rule that refuses an action.

Every domain raises these or a subclass (``distribution.commission.CommissionError`` and the
rule errors in ``distribution.rules`` derive from ``ShopError`` too), so one ``except
ShopError`` at an entry point (a storefront view, the workbench, the admin's base view, an API)
handles them all. Each error has:

- ``message``: what a customer or staff member reads (translated);
- ``code``: a stable machine name for the refusal (``"invalid_input"``, ``"rule_published"``),
  one per class, which an API returns and a caller or test compares instead of the wording.

Raising one means nothing was changed (the entry point rolls back what the action began).
"""


class ShopError(Exception):
    """A business rule refused the action; nothing was changed."""

    code = "refused"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class OutOfStock(ShopError):
    code = "out_of_stock"


class InvalidInput(ShopError):
    code = "invalid_input"


class AlreadyTaken(InvalidInput):
    """Something that must be unique is taken already (an e-mail address, a tier's rank)."""

    code = "already_taken"


class InvalidTransition(ShopError):
    code = "invalid_transition"


class PaymentError(ShopError):
    code = "payment_failed"
