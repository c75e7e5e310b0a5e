"""Every download names its type once: Litestar adds the charset to ``text/*`` types itself."""

from __future__ import annotations

import pytest

from crm.web.downloads import ATOM, CSV, JSON, calendar_type, download, media_type_for


@pytest.mark.parametrize(
    ("given", "handed_over"),
    [
        ("text/csv; charset=utf-8", "text/csv"),
        ("text/calendar; charset=utf-8; method=REQUEST", "text/calendar; method=REQUEST"),
        (calendar_type("CANCEL"), "text/calendar; method=CANCEL"),
        (JSON, "application/json; charset=utf-8"),
        (ATOM, "application/atom+xml; charset=utf-8"),
    ],
)
def test_text_types_lose_their_charset_and_others_keep_it(given, handed_over):
    assert media_type_for(given) == handed_over


def test_a_download_has_one_charset_and_a_safe_file_name():
    response = download("a,b\r\n", CSV, 'impact "2026"\r\nX-Evil: 1.csv').to_asgi_response(app=None, request=None)
    headers = dict(response.headers.items())
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["content-disposition"] == 'attachment; filename="impact -2026-X-Evil- 1.csv"'
