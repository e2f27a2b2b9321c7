"""Staff: accounts, sign-in with its rate limit, the audit log."""
