"""Digests domain."""
