"""Members in the admin panel: loyalty settings, tiers, coupons, points."""
