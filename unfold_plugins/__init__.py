"""Plugins shipped with unfold, importable as ``unfold_plugins.<name>``."""
