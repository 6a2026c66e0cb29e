"""The Gemini API stand-in, driven by the real ``google-genai`` client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2
import pydantic
import pytest
import requests
from google import genai
from google.genai import errors, types

from devstack.gemini import GeminiServer, prompt_text

pytestmark = pytest.mark.integration

MODEL = "gemini-2.5-flash"


class Summary(pydantic.BaseModel):
    title: str
    severity: str


@pytest.fixture
def gemini() -> Iterator[GeminiServer]:
    with GeminiServer(api_key="test-key") as server:
        yield server


@pytest.fixture
def llm(gemini: GeminiServer) -> Iterator[genai.Client]:
    with gemini.client(timeout_ms=5_000) as client:
        yield client


def test_generate_content_gets_the_text(gemini: GeminiServer) -> None:
    gemini.respond_with("Pod api-1 is crash looping.")
    options = types.HttpOptions(base_url=gemini.base_url, timeout=5_000)

    with genai.Client(api_key="test-key", http_options=options) as client:
        answer = client.models.generate_content(
            model=MODEL,
            contents="Summarise the incident.",
            config=types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.2),
        )

    assert answer.text == "Pod api-1 is crash looping."
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.candidates[0].content.role == "model"
    assert answer.model_version == MODEL
    assert len(answer.response_id) == 22
    assert answer.usage_metadata.total_token_count > answer.usage_metadata.prompt_token_count > 0
    [request] = gemini.requests
    assert (request.method, request.path) == ("POST", f"/v1/models/{MODEL}:generateContent")
    assert request.header("x-goog-api-key") == "test-key"
    assert request.header("X-Server-Timeout") == "5"
    body = request.json()
    assert prompt_text(body) == "Summarise the incident."
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert body["generationConfig"] == {"temperature": 0.2}


def test_a_responder_answers_structured_output(gemini: GeminiServer, llm: genai.Client) -> None:
    def responder(body: dict) -> str:
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert set(config["responseSchema"]["properties"]) == {"title", "severity"}
        return json.dumps({"title": prompt_text(body).upper(), "severity": "critical"})

    gemini.respond_with(responder)
    answer = llm.models.generate_content(
        model=MODEL,
        contents="oom in checkout",
        config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=Summary),
    )

    assert answer.parsed == Summary(title="OOM IN CHECKOUT", severity="critical")


def test_streaming_gets_the_text_in_chunks(gemini: GeminiServer, llm: genai.Client) -> None:
    gemini.respond_with("The checkout pods ran out of memory after the 1.4 release.")

    chunks = list(llm.models.generate_content_stream(model=MODEL, contents="why?"))

    assert len(chunks) == 3
    assert "".join(chunk.text for chunk in chunks) == "The checkout pods ran out of memory after the 1.4 release."
    assert gemini.requests[0].path == f"/v1/models/{MODEL}:streamGenerateContent"


def test_429_raises_client_error_and_is_not_retried(gemini: GeminiServer, llm: genai.Client) -> None:
    gemini.fail(429)

    with pytest.raises(errors.ClientError) as caught:
        llm.models.generate_content(model=MODEL, contents="hello")

    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")
    assert caught.value.details["error"]["details"][-1]["retryDelay"] == "27s"
    assert len(gemini.requests) == 1  # google-genai does not retry by default
    assert llm.models.generate_content(model=MODEL, contents="hello").text  # the fault was used up


@pytest.mark.parametrize(("code", "status"), [(500, "INTERNAL"), (503, "UNAVAILABLE")])
def test_5xx_raises_server_error(gemini: GeminiServer, llm: genai.Client, code: int, status: str) -> None:
    gemini.fail(code)

    with pytest.raises(errors.ServerError) as caught:
        llm.models.generate_content(model=MODEL, contents="hello")

    assert (caught.value.code, caught.value.status) == (code, status)


def test_retry_options_retry_503s(gemini: GeminiServer) -> None:
    gemini.fail(503, times=2)
    retry = types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.05, jitter=0)

    with gemini.client(retry_options=retry) as client:
        answer = client.models.generate_content(model=MODEL, contents="hello")

    assert answer.text
    assert len(gemini.requests) == 3


def test_a_wrong_key_is_refused(gemini: GeminiServer) -> None:
    options = types.HttpOptions(base_url=gemini.base_url, timeout=5_000)

    with (
        genai.Client(api_key="not-the-key", http_options=options) as client,
        pytest.raises(errors.ClientError) as caught,
    ):
        client.models.generate_content(model=MODEL, contents="hello")

    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.message == "API key not valid. Please pass a valid API key."


def test_no_key_and_bearer_tokens_are_refused_like_google(gemini: GeminiServer) -> None:
    url = f"{gemini.url}/v1/models/{MODEL}:generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

    anonymous = requests.post(url, json=body, timeout=5)
    bearer = requests.post(url, json=body, headers={"Authorization": "Bearer ya29.token"}, timeout=5)
    query_key = requests.post(url, json=body, params={"key": "test-key"}, timeout=5)

    assert (anonymous.status_code, anonymous.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert (bearer.status_code, bearer.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert query_key.status_code == 200


def test_a_slow_answer_with_a_short_timeout_fails(gemini: GeminiServer) -> None:
    gemini.delay(2.0)

    started = time.monotonic()
    with gemini.client(timeout_ms=300) as client, pytest.raises(httpx2.TimeoutException):
        client.models.generate_content(model=MODEL, contents="hello")

    assert time.monotonic() - started < 1.5
    assert len(gemini.requests) == 1


def test_a_failing_responder_answers_500(gemini: GeminiServer, llm: genai.Client) -> None:
    def broken(body: dict) -> str:
        raise RuntimeError("no answer prepared")

    gemini.respond_with(broken)

    with pytest.raises(errors.ServerError, match="no answer prepared"):
        llm.models.generate_content(model=MODEL, contents="hello")
