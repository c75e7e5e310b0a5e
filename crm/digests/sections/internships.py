"""The "Open internships" section, for subscribers to internship alerts.

Open listings are loaded once per run by the internships domain (``crm.internships.alerts.load_alert_items``: two
statements) and matched to each subscriber in memory with the domain's fit rule (``crm.internships.fit.fits``: the
subscription's topics and regions, and the alert filters ``stored_filters`` reads from ``Subscription.filters``);
items render with the domain's ``email/_section_internships`` templates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from crm.digests.sections.base import Catalogue, Section, SubscriberView
from crm.internships.alerts import AlertItem, filters_from_stored, load_alert_items, stored_filters
from crm.internships.fit import Criteria, fits


def load_internships(cat: Catalogue) -> list[AlertItem]:
    return load_alert_items(cat.session, cat.now, cat.base_url)


class OpenInternships(Section):
    key = "internships"
    title = "Open internships"
    item_kind = "internship"
    ledger_kind = "internship"
    mailing = "internship_alerts"
    limit = 2
    more_url = "/internships"
    source = ("internships", load_internships)

    def candidates(self, catalogue: Catalogue, sub: SubscriberView) -> Iterable[Any]:
        items: list[AlertItem] = self.open_items(catalogue)
        criteria = Criteria.of(self._filters(catalogue, stored_filters(sub.filters)), sub.topics, sub.regions)
        return (i for i in items if fits(i.facts, criteria))

    def cache_key(self, sub: SubscriberView) -> Any:
        stored = stored_filters(sub.filters)
        # Most subscribers store no internship filters: skip encoding an empty dict 100,000 times a run.
        return (sub.topics, sub.regions, json.dumps(stored, sort_keys=True, default=str) if stored else "")

    @staticmethod
    def _filters(catalogue: Catalogue, stored: dict[str, Any]) -> Any:
        """Parsed once per distinct stored value per run (subscribers share a handful of filter sets)."""
        cache: dict[str, Any] = catalogue.once("internship_filters", lambda _cat: {})
        key = json.dumps(stored, sort_keys=True, default=str)
        parsed = cache.get(key)
        if parsed is None:
            parsed = filters_from_stored(stored)
            if len(cache) < 10_000:
                cache[key] = parsed
        return parsed

    def fragment_context(self, item: Any) -> dict[str, Any]:
        return {"internships": [item]}
