"""Plumbing: jobs on RQ or in-process, the periodic sweeps, SQLite settings."""
