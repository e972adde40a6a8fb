"""Scenario files (TOML), behaviour calibration and sampling, shipped data."""
