"""Live selling: sessions, pinned products, live prices, invite links (later issue)."""
