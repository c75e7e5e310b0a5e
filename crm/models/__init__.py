"""All models, importable as ``from crm import models as m`` so Alembic sees every table from one import.

Each aggregate has its own module; a domain added later adds its module here (one line).
"""

from crm.models.accounts import ROLE_RANK, ApiKey, Role, SignInToken, User, UserSession
from crm.models.audit import AuditEntry
from crm.models.base import Base, utcnow
from crm.models.campaigns import *  # noqa: F403
from crm.models.digests import *  # noqa: F403
from crm.models.directory import (
    Affiliation,
    CareerStage,
    Contact,
    Organisation,
    OrgKind,
    Region,
    ReviewStatus,
    Topic,
    VcseCategory,
    Visibility,
    contact_regions,
    contact_topics,
    organisation_topics,
)
from crm.models.events import *  # noqa: F403
from crm.models.funding import *  # noqa: F403
from crm.models.imports import *  # noqa: F403
from crm.models.internships import *  # noqa: F403
from crm.models.involvement import *  # noqa: F403

# Domain model modules: each lists its models in ``__all__`` (F403/F405: deliberate re-export point).
from crm.models.mailing import *  # noqa: F403
from crm.models.map import *  # noqa: F403
from crm.models.merges import *  # noqa: F403
from crm.models.outbox import EmailParts, OutboxMessage, OutboxStatus, Suppression, email_parts, pack_sent
from crm.models.partnerships import *  # noqa: F403
from crm.models.privacy import *  # noqa: F403
from crm.models.saved_views import *  # noqa: F403
from crm.models.timeline import *  # noqa: F403

__all__ = [
    "ROLE_RANK",
    "Affiliation",
    "ApiKey",
    "AuditEntry",
    "Base",
    "CareerStage",
    "Contact",
    "EmailParts",
    "OrgKind",
    "Organisation",
    "OutboxMessage",
    "OutboxStatus",
    "Region",
    "ReviewStatus",
    "Role",
    "SignInToken",
    "Suppression",
    "Topic",
    "User",
    "UserSession",
    "VcseCategory",
    "Visibility",
    "contact_regions",
    "contact_topics",
    "email_parts",
    "organisation_topics",
    "pack_sent",
    "utcnow",
]
