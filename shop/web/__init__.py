"""The web layer every package shares: templating, the session cookie, the page cache, routes."""
