"""Placeholder: involvement on the organisation page (issue 18)."""

from crm.extensions import SectionProvider

admin_sections: SectionProvider | None = None
