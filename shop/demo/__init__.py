"""Demo data and the plain factory functions that tests and the demo share."""
