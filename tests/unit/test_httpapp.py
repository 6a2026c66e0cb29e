"""The shared HTTP door: routing, health, metrics and failures that never leak internals."""

from __future__ import annotations

import flask
import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from whooper_common.config import ConfigError, Env
from whooper_common.httpapp import FunctionApp, HTTPError, json_response, lazy_handler
from whooper_common.metrics import new_registry


def _client(handler: object) -> Client:
    app = flask.Flask("test")
    app.add_url_rule("/", "root", lambda: handler(flask.request), methods=["GET", "POST", "PUT", "HEAD"])  # type: ignore[operator]
    app.add_url_rule(
        "/<path:path>",
        "any",
        lambda path: handler(flask.request),
        methods=["GET", "POST", "PUT", "HEAD"],  # type: ignore[operator]
    )
    return app.test_client()


def _boom(_request: flask.Request) -> flask.Response:
    raise RuntimeError("secret-ish internal detail")


def _bad(_request: flask.Request) -> flask.Response:
    raise HTTPError(400, "field 'alerts' is missing")


def _ok(_request: flask.Request) -> flask.Response:
    return json_response({"done": True})


def _app() -> FunctionApp:
    return FunctionApp("demo", new_registry(), {"/": {"POST": _ok}, "/boom": {"POST": _boom}, "/bad": {"POST": _bad}})


def _samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_healthz_answers_ok_with_the_function_name() -> None:
    response = _client(_app()).get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "function": "demo"}


def test_healthz_reports_why_the_function_is_not_ready() -> None:
    app = FunctionApp("demo", new_registry(), {}, ready=lambda: "K_SINK unreachable")
    response = _client(app).get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "K_SINK unreachable"


def test_metrics_count_requests_by_method_route_and_status() -> None:
    client = _client(_app())
    client.post("/")
    client.post("/bad")
    client.get("/nowhere/at/all")
    samples = _samples(client)
    assert samples[("whooper_http_requests_total", (("method", "POST"), ("route", "/"), ("status", "200")))] == 1
    assert samples[("whooper_http_requests_total", (("method", "POST"), ("route", "/bad"), ("status", "400")))] == 1
    # unknown paths share one label value so a scanner cannot blow up the series count
    assert samples[("whooper_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    assert samples[("whooper_http_request_duration_seconds_count", (("method", "POST"), ("route", "/")))] == 1


def test_metrics_include_the_process_collector_under_the_whooper_namespace() -> None:
    names = {name for name, _labels in _samples(_client(_app()))}
    assert "whooper_process_resident_memory_bytes" in names
    assert "whooper_process_cpu_seconds_total" in names


def test_wrong_method_gets_405_with_allow_header() -> None:
    response = _client(_app()).get("/")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert "use POST" in response.get_json()["error"]


def test_unknown_path_gets_404_naming_the_routes() -> None:
    response = _client(_app()).post("/nope")
    assert response.status_code == 404
    assert "/healthz" in response.get_json()["error"]


def test_http_error_becomes_its_status_and_message() -> None:
    response = _client(_app()).post("/bad")
    assert response.status_code == 400
    assert response.get_json() == {"error": "field 'alerts' is missing"}


def test_unexpected_error_is_500_without_internals(caplog: pytest.LogCaptureFixture) -> None:
    response = _client(_app()).post("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret-ish" not in body
    assert "Traceback" not in body
    assert "secret-ish internal detail" in caplog.text  # the operator still sees it in the log


def test_lazy_handler_builds_once_on_first_request() -> None:
    built: list[Env] = []

    def build(env: Env) -> FunctionApp:
        built.append(env)
        return _app()

    client = _client(lazy_handler("demo", build, env={"A": "1"}))
    assert built == []  # nothing read before the first request
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert built == [{"A": "1"}]


def test_lazy_handler_answers_503_with_the_configuration_problem(caplog: pytest.LogCaptureFixture) -> None:
    def build(_env: Env) -> FunctionApp:
        raise ConfigError("PUSHGATEWAY_URL is not set: point it at the Pushgateway")

    client = _client(lazy_handler("demo", build, env={}))
    for path in ("/healthz", "/"):
        response = client.post(path) if path == "/" else client.get(path)
        assert response.status_code == 503
        assert "PUSHGATEWAY_URL is not set" in response.get_json()["error"]
    assert "demo cannot start" in caplog.text
