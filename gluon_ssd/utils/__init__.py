"""Helpers every layer may use: argument checks, confined and atomic file writes, text tables."""
