"""Live sessions: scheduling, starting, the host's heartbeat, pins, ending (services do not
commit)."""
