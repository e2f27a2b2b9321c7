"""Payments: Stripe Checkout, refunds through Stripe, and the webhook that confirms payments."""
