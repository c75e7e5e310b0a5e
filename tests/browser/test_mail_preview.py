"""The fellow reads a whole email in the outbox viewer: the preview frame grows to the email's height."""

from __future__ import annotations

import pytest

from crm import models as m

pytestmark = pytest.mark.browser

FRAME_FITS_JS = """() => {
  const frame = document.querySelector('iframe.mail-frame');
  const doc = frame.contentDocument;
  return {frame: frame.getBoundingClientRect().height, content: doc.documentElement.scrollHeight,
          text: doc.body.innerText.length};
}"""


def test_the_email_preview_shows_the_whole_email(page, live, signed_in):
    signed_in(m.Role.ADMIN)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live.data.fill("/admin/mail/{message_id}"))
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe.mail-frame');"
        " return f && f.contentDocument && f.contentDocument.readyState === 'complete'"
        " && f.contentDocument.body && f.contentDocument.body.innerText.length > 0; }"
    )
    page.wait_for_timeout(100)  # the load handler runs after readyState flips
    sizes = page.evaluate(FRAME_FITS_JS)
    assert sizes["text"] > 0
    assert sizes["frame"] >= sizes["content"], sizes
    assert page.console.errors == []
