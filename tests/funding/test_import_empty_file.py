"""Uploading a funding-call CSV with nothing in it: the page says the file is empty (as the directory's import and
`crm funding import` do), not "Choose a CSV file", which read as if the chosen file had not arrived."""

from __future__ import annotations

from tests.conftest import csrf_token


def _upload(client, name: str, content: bytes):
    return client.post(
        "/admin/funding-calls/import",
        files={"file": (name, content, "text/csv")},
        data={"_csrf_token": csrf_token(client)},
    )


def test_an_empty_file_is_called_empty(admin_client):
    for content in (b"", b"\n\n  \n"):
        response = _upload(admin_client, "calls.csv", content)
        assert response.status_code == 422
        assert "The file is empty." in response.text
        assert "Choose a CSV file to import." not in response.text


def test_no_file_chosen_still_asks_for_one(admin_client):
    response = _upload(admin_client, "", b"")
    assert response.status_code == 422
    assert "Choose a CSV file to import." in response.text
