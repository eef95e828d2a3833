"""The one place that builds an ``openai.OpenAI`` client, for the chat model and the embeddings alike.

Retries are ours (tools/http/retry.py), so the client's own are off; local servers need no key but the
client insists on one."""

from __future__ import annotations

import openai

PLACEHOLDER_API_KEY = "not-needed"


def openai_client(base_url: str | None, api_key: str | None, *, timeout_s: float) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url, api_key=api_key or PLACEHOLDER_API_KEY, timeout=timeout_s, max_retries=0
    )


def status_error_headers(error: BaseException) -> dict[str, str] | None:
    """The headers of a failed response, for the retry policy's Retry-After; None for other errors."""
    return dict(error.response.headers) if isinstance(error, openai.APIStatusError) else None
