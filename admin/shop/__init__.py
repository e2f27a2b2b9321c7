"""The shop's core in the admin panel: catalog, orders (with refunds and payments), people."""
