"""Members: tiers and their tasks, points, coupons, bring-a-friend."""
