"""Internships domain."""
