"""Placeholder: filled by the involvement work (issue 18)."""

from crm.scheduling import ScheduledJob

JOBS: list[ScheduledJob] = []
