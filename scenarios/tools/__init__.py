"""Maintenance scripts that regenerate shipped data (not used at run time)."""
