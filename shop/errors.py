"""Domain errors: each carries a message a customer or staff member can read."""


class ShopError(Exception):
    """A business rule refused the action; nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class OutOfStock(ShopError):
    pass


class InvalidInput(ShopError):
    pass


class InvalidTransition(ShopError):
    pass


class PaymentError(ShopError):
    pass
