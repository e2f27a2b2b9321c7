"""Distribution in the admin panel: the programme's settings, guides and promoters, levels,
share links, visits, bindings, attributions, commission rules, the commission ledger, balances
and payouts, acquisition costs, and the numbers.

Store scoping: a store manager reaches only the sharers of their stores and what hangs off
them (share links, visits, bindings, commission entries, payouts), and the attributions that
credit one of their stores, in every list, detail page, export, action and custom page; an id
outside them is a 404. ``scoping`` holds the rule; promoters without a store (recruited by
no guide) are head office's.

Changes go through the distribution services, which audit them: approving promoters
(``promoters.approve_promoter``), a guide leaving (``guides.transfer_customers``), publishing
a rule (``rules.publish``), approving a payout (``commission.approve_payout``). The form views
(settings, guides, levels, draft rules, acquisition costs) are audited by the base view's hook,
before and after. Phone numbers are masked unless the role holds ``phones.full``.

Who may do what (the permission names are in ``admin.permissions``):

=================================  =====  ==========  =======  =======
page, action                       owner  manager     finance  support
=================================  =====  ==========  =======  =======
Programme settings                 edit
Guides and promoters               edit   own stores
- approve promoters, guide leaves  yes    own stores
Levels                             edit   read
Share links, visits, bindings      read   own stores
Attributions                       read   own stores
Commission rules (drafts)          edit                       edit
- publish, back-test, preview      yes                        yes
Commission ledger, CSV             read   own stores  read
Balances                           read   own stores  read
- approve payout                   yes                        yes
Payouts, CSV                       read   own stores  read
- sharer's full phone in the CSV   yes                        yes
Acquisition costs                  edit                       edit
Numbers                            read   own stores  read
=================================  =====  ==========  =======  =======
"""
