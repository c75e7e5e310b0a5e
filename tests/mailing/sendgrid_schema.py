"""Validate SendGrid Mail Send payloads against the official OpenAPI 3.1 schema, plus the rules it omits.

The spec is copied into ``tests/mailing/vendor/tsg_mail_v3.json`` (twilio/sendgrid-oai, MIT, see LICENSE and
README there) so CI validates offline on a clean clone.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).parent / "vendor" / "tsg_mail_v3.json"
SCHEMA_REF = "urn:sg#/components/requestBodies/PostMailSend/content/application~1json/schema"
CALENDAR_TYPES = {"text/calendar; method=REQUEST", "text/calendar; method=CANCEL"}


@cache
def _validator() -> Draft202012Validator:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    registry = Registry().with_resource("urn:sg", Resource.from_contents(spec, default_specification=DRAFT202012))
    return Draft202012Validator(
        {"$ref": SCHEMA_REF}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def schema_errors(payload: dict[str, Any]) -> list[str]:
    errors = [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in _validator().iter_errors(payload)]
    errors.extend(_extra_rule_errors(payload))
    return errors


def _extra_rule_errors(payload: dict[str, Any]) -> list[str]:
    """Documented rules the schema does not encode (reference notes §1.2, §1.3, §1.9, §8 items 2-5)."""
    errors: list[str] = []
    content = payload.get("content", [])
    types = [c.get("type", "") for c in content]
    if types[:1] != ["text/plain"]:
        errors.append(f"content must start with text/plain, got {types}")
    if "text/html" in types and types.index("text/html") != 1:
        errors.append(f"text/html must come second, got {types}")
    for t in types + [a.get("type", "") for a in payload.get("attachments", [])]:
        if (";" in t or "\r" in t or "\n" in t) and t not in CALENDAR_TYPES:
            errors.append(f"type {t!r} may not contain ';' or CRLF")
    personalizations = payload.get("personalizations", [])
    recipients: list[str] = []
    for p in personalizations:
        for field in ("to", "cc", "bcc"):
            recipients.extend(a["email"].lower() for a in p.get(field, []))
        args = p.get("custom_args", {})
        for key, value in args.items():
            if not key.startswith("crm_"):
                errors.append(f"custom_args key {key!r} must start with crm_")
            if not isinstance(value, str) or "@" in value:
                errors.append(f"custom_args {key!r} must be a string without personal data")
        if len(json.dumps(args).encode()) >= 10_000:
            errors.append("custom_args exceed 10,000 bytes")
        subs = p.get("substitutions", {})
        if subs and len(json.dumps(subs, ensure_ascii=False).encode()) > 10_000:
            errors.append("substitutions exceed 10,000 bytes")
        for a in p.get("to", []):
            if any(c in a.get("name", "") for c in ";,"):
                errors.append("to.name must not contain ; or ,")
    if len(recipients) > 1000:
        errors.append("more than 1000 recipients")
    if len(set(recipients)) != len(recipients):
        errors.append("the same address twice in one request")
    if "custom_args" in payload:
        errors.append("custom_args must be on the personalization only")
    if payload.get("tracking_settings", {}).get("subscription_tracking", {}).get("enable") is not False:
        errors.append("subscription tracking must be off")
    if "reply_to" in payload and "reply_to_list" in payload:
        errors.append("reply_to and reply_to_list are mutually exclusive")
    return errors


def validate_payload(payload: dict[str, Any]) -> None:
    """Raise ``AssertionError`` listing every problem when the payload is not a valid Mail Send body."""
    errors = schema_errors(payload)
    assert not errors, "SendGrid payload invalid:\n" + "\n".join(errors)
