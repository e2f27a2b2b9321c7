"""Checkout: the basket, its quote from server-side prices, placing the order in one transaction."""
