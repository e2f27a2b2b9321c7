"""What the tests share: catalog, orders, sign-in, SMS capture, staff and browser helpers,
and a fake Stripe."""
