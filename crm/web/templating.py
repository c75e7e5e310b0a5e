"""One Jinja2 environment for pages (autoescaped) and one for plain text (not escaped).

Emails render their text part in the non-escaping environment, so ``&`` in a title stays ``&`` in text mail.
Both carry the same filters (dates, a call's amount and time left), so pages and emails word them alike.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from crm.funding.labels import amount_label, countdown
from crm.history import label as field_label
from crm.plainwords import mailing_names, plain
from crm.settings import PROJECT_ROOT
from crm.timefmt import format_date, format_datetime

TEMPLATE_DIR = PROJECT_ROOT / "templates"


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _field(row: Any, name: str) -> Any:
    try:
        return getattr(row, name)
    except AttributeError:
        return row[name]  # a mapping row, as Jinja's row.name would read it


def options(
    items: Iterable[Any] | Mapping[Any, Any], value: str | None = None, label: str | None = None
) -> list[tuple[Any, Any]]:
    """(value, label) pairs for the select and checkbox macros.

    ``{mapping} | options`` -> (key, label); ``rows | options("slug", "name")`` -> attributes of each row;
    ``values | options`` -> each value as its own label. Enum members become their values.
    """
    if isinstance(items, Mapping):
        return [(_plain(k), v) for k, v in items.items()]
    if value is None:
        return [(_plain(v), _plain(v)) for v in items]
    return [(_plain(_field(row, value)), _plain(_field(row, label or value))) for row in items]


def _filters(env: Environment) -> None:
    env.filters["datetime"] = format_datetime
    env.filters["date"] = format_date
    env.filters["amount"] = amount_label  # {{ call.amount_min | amount(call.amount_max) }}
    env.filters["countdown"] = countdown  # {{ call.next_deadline_at | countdown(now) }}
    env.filters["field_label"] = field_label  # {{ "region_id" | field_label }} -> "Region"
    env.filters["plain"] = plain  # {{ sub.frequency | plain }} -> "Weekly"
    env.filters["mailings"] = mailing_names  # {{ sub.mailings | mailings }} -> "Funding-call digest, Event news"
    env.filters["options"] = options  # {{ select(form, "topic", "Topic", topics | options("id", "name")) }}


def html_environment(globals_: dict[str, Any] | None = None) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "htm", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    _filters(env)
    env.globals.update(globals_ or {})
    return env


def text_environment(globals_: dict[str, Any] | None = None) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    _filters(env)
    env.globals.update(globals_ or {})
    return env
