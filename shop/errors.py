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


class InvalidDetails(InvalidInput):
    """Several fields of one form are wrong: ``problems`` maps each field's name to what is
    wrong with it (``message`` is the first), so a form can show them all, each by its field."""

    code = "invalid_details"

    def __init__(self, problems: dict[str, str]):
        super().__init__(next(iter(problems.values())))
        self.problems = problems


class AlreadyTaken(InvalidInput):
    """Something that must be unique is taken already (an e-mail address, a tier's rank)."""

    code = "already_taken"


class InvalidTransition(ShopError):
    code = "invalid_transition"


class PaymentError(ShopError):
    code = "payment_failed"
