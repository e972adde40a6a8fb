"""Offline assessment pipelines: station, distribution and transmission layers, DA and RT."""
