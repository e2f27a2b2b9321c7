"""Orders: the state machine (paid, fulfilled, picked up, cancelled, expired, refunded)."""
