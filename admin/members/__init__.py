"""Members in the admin panel: loyalty settings, member tiers with their tasks, coupon templates,
issued coupons (and granting one to a customer), the points ledger (and adjusting a customer's
points), and the points shop.

Amounts are typed in major units and stored in minor units (``shop.money.parse_money``);
percentages are typed as "12.5" and stored in basis points. Settings, tiers (with their
tasks), templates and points shop items are audited by the base view's hook, before and
after; a coupon grant (``coupons.issue`` with the staff member) and a points adjustment
(``points.adjust``, which refuses one without a reason) write their own audit entries. The
adjustment form carries an idempotency key, so a double click or a replayed form adjusts once.
Customers' phone numbers are masked unless the role holds ``phones.full``.

Who may do what (the permission names are in ``admin.permissions``):

=================================  =====  =======  =======
page, action                       owner  finance  support
=================================  =====  =======  =======
Loyalty settings, tiers and tasks  edit   read
Coupon templates, points shop      edit   read
Issued coupons                     read   read     read
- grant a coupon to a customer     yes
Points ledger                      read   read     read
- adjust a customer's points       yes    yes
=================================  =====  =======  =======

Store managers have none of these: customers and their memberships are the whole shop's.
"""
