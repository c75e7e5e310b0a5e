"""Campaigns (issue 16): the fellow's announcements and newsletters, their audience, sending, news and figures."""
