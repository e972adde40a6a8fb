"""Operator optimisation models built on the flexibility sets (dispatch layers)."""
