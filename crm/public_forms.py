"""What the public forms share: the spam trap (a field people never see) and re-showing the consent tick.

The trap was a field named ``nickname``: browsers' autofill and password managers fill fields by name and label,
so a real person's submission could be thrown away as a robot's, which breaks the promise never to silently drop
a record. It is now named so no autofill heuristic matches it (nothing like name, nick, email, phone, address,
company, user or login), carries every manager's "ignore me" attribute, and stays out of the tab order and the
accessibility tree (``templates/public/_trap.html``, the one copy every form includes). A filled trap still looks
like success to the sender (telling a robot would teach it) but is logged, without what was typed, so a wave of
dropped submissions is visible.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from crm.validation import Form

log = logging.getLogger("crm.spam")

TRAP_FIELD = "rt_leave_blank"
"""The trap's name in ``templates/public/_trap.html`` (a test renders every form that includes it)."""

RETIRED_TRAP_FIELDS = ("nickname",)
"""Names the trap had before: no page shows them any more, so only a script written against the old forms sends
them, and its submission is a robot's."""


def trapped(data: Mapping[str, Any], form_name: str) -> bool:
    """Whether the submission filled the trap (so it is a robot's and is not kept). Logs which form and which
    trap, never the values (they may be a person's details)."""
    for name in (TRAP_FIELD, *RETIRED_TRAP_FIELDS):
        if str(data.get(name, "") or "").strip():
            log.warning("Spam trap filled on the %s form (field %s): the submission was not kept.", form_name, name)
            return True
    return False


def consent_ticked(form: Form, shown_version: str) -> bool:
    """Whether the consent box comes back ticked after a refused submit: the person ticked it themselves (showing
    their own tick again is not pre-ticking), and for the wording on the page now. A tick given to older wording
    comes back empty, with the message asking them to read it again."""
    return form.bool("consent") and form.data.get("consent_version") == shown_version
