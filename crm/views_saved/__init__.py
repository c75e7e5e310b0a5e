"""Saved views: named sets of filters on the admin lists, per user (issue 17.4)."""
