"""Customers: who the browser is, phones, sign-in by code, the account pages."""
