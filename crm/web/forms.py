"""HTML forms: parse inside the handler and re-render with messages, never a bare 400.

``FormBody`` accepts any url-encoded form, ``MultipartBody`` an upload; ``Form`` (from ``crm.validation``, re-exported
here for handlers) wraps the values with helpers for the usual field types and collects one message per bad field.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar.enums import RequestEncodingType
from litestar.params import Body

from crm.validation import Form, normalise_email

FormBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
MultipartBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]

__all__ = ["Form", "FormBody", "MultipartBody", "normalise_email"]
