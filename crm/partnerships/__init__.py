"""Partnerships domain."""
