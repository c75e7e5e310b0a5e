"""The partner directory: organisations, contacts, their affiliations, topics and regions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, Timestamped, link_table, str_enum


class OrgKind(enum.StrEnum):
    VCSE = "vcse"
    ACADEMIC = "academic"
    FUNDER = "funder"
    NHS = "nhs"
    OTHER = "other"


class VcseCategory(enum.StrEnum):
    """Categories of the UK directory of service-user and carer involvement groups."""

    OPEN_CONSULTATIVE = "open-consultative-group"
    PROJECT_SPECIFIC = "project-specific-group"
    INSTITUTION_SPECIFIC = "institution-or-initiative-specific-group"
    FREE_STANDING = "free-standing-organisation"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class ReviewStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class CareerStage(enum.StrEnum):
    STUDENT = "student"
    EARLY_CAREER = "early-career-researcher"
    ESTABLISHED = "established-researcher"
    PRACTITIONER = "practitioner"
    LIVED_EXPERIENCE = "lived-experience-expert"
    OTHER = "other"


organisation_topics = link_table("organisation_topics", "organisation_id", "organisations", "topic")

contact_topics = link_table("contact_topics", "contact_id", "contacts", "topic")

contact_regions = link_table("contact_regions", "contact_id", "contacts", "region")


class Region(Base):
    """UK ITL1 regions plus "UK-wide"."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(default=0)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"
    __table_args__ = (
        Index("ix_organisations_public_name", "review_status", "visibility", "name_normalised", "id"),
        # The public list's other sorts, "Newest first" and "Recently updated": read in order, not sorted (a page
        # of 20 sorted 100,000 rows before; tests/directory/test_list_sort_plans.py).
        Index("ix_organisations_public_created", "review_status", "visibility", "created_at", "id"),
        Index("ix_organisations_public_updated", "review_status", "visibility", "updated_at", "id"),
        Index("ix_organisations_charity_number", "charity_number"),
        Index("ix_organisations_website_domain", "website_domain"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_normalised: Mapped[str] = mapped_column(String(300), index=True)
    slug: Mapped[str] = mapped_column(String(320), unique=True)
    kind: Mapped[OrgKind] = mapped_column(str_enum(OrgKind), index=True)
    vcse_category: Mapped[VcseCategory | None] = mapped_column(str_enum(VcseCategory))
    user_led: Mapped[bool] = mapped_column(default=False)
    lived_experience_led: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    website_domain: Mapped[str] = mapped_column(String(255), default="")
    public_email: Mapped[str] = mapped_column(String(320), default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"), index=True)
    postcode: Mapped[str] = mapped_column(String(16), default="")
    charity_number: Mapped[str] = mapped_column(String(40), default="")  # England and Wales, OSCR (SC…) or CCNI (NIC…)
    company_number: Mapped[str] = mapped_column(String(8), default="")  # Companies House, 8 characters
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility), default=Visibility.PUBLIC)
    review_status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus), default=ReviewStatus.APPROVED)
    submitter_name: Mapped[str] = mapped_column(String(200), default="")
    submitter_email: Mapped[str] = mapped_column(String(320), default="")
    reviewed_at: Mapped[dt.datetime | None]
    review_note: Mapped[str] = mapped_column(String(1000), default="")
    # Archived (issue 17.4): kept with its history, out of the lists, the public directory and audiences.
    archived_at: Mapped[dt.datetime | None]

    region: Mapped[Region | None] = relationship(lazy="raise")
    parent: Mapped[Organisation | None] = relationship(remote_side="Organisation.id", lazy="raise")
    topics: Mapped[list[Topic]] = relationship(secondary=organisation_topics, lazy="raise", order_by=Topic.name)
    affiliations: Mapped[list[Affiliation]] = relationship(
        back_populates="organisation", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class Contact(Timestamped, Base):
    """A person. Contacts are private: never rendered on public pages or in the public API."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Stored lower-cased so uniqueness is case-insensitive on both databases.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    career_stage: Mapped[CareerStage | None] = mapped_column(str_enum(CareerStage))
    notes: Mapped[str] = mapped_column(Text, default="")
    erased_at: Mapped[dt.datetime | None]
    archived_at: Mapped[dt.datetime | None]  # out of the lists and audiences, kept with its history

    topics: Mapped[list[Topic]] = relationship(secondary=contact_topics, lazy="raise", order_by=Topic.name)
    regions: Mapped[list[Region]] = relationship(secondary=contact_regions, lazy="raise", order_by=Region.position)
    affiliations: Mapped[list[Affiliation]] = relationship(
        back_populates="contact", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class Affiliation(Base):
    __tablename__ = "affiliations"
    __table_args__ = (UniqueConstraint("contact_id", "organisation_id", name="uq_affiliations_contact_org"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(200), default="")
    is_primary: Mapped[bool] = mapped_column(default=False)

    contact: Mapped[Contact] = relationship(back_populates="affiliations", lazy="raise")
    organisation: Mapped[Organisation] = relationship(back_populates="affiliations", lazy="raise")
