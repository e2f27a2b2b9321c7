"""Distribution in the admin panel: programme, sharers, tracking, rules, ledger, numbers."""
