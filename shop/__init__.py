"""Siyu's core: catalog, checkout, orders, payments, customers, members, staff.

``shop.app.create_app`` builds the whole application; ``distribution``, ``live`` and ``admin``
are plugged in there, inside the factory, so ``shop`` never imports them at module level.
"""
