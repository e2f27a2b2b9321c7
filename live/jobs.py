"""Live selling's jobs: plain functions taking ids, safe to run twice."""
