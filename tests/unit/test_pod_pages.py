"""Reading one page of a pod list: the continue token, and bodies that are not a pod list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pod_exporter.pods import NotAPodList, read_page

POD_LIST = (Path(__file__).parent / "data" / "pod_list.json").read_bytes()


def test_a_page_gives_its_pods_and_continue_token() -> None:
    body = json.loads(POD_LIST)
    body["metadata"] |= {
        "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgyMTMsInN0YXJ0Ijoic2hvcC93ZWIifQ",
        "remainingItemCount": 7,
    }
    pods, token = read_page(json.dumps(body).encode())
    assert token == "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgyMTMsInN0YXJ0Ijoic2hvcC93ZWIifQ"
    assert [(p.namespace, p.name) for p in pods[:2]] == [
        ("shop", "web-7d9c6b5f4-x2k8p"),
        ("shop", "api-5c8d7f6b9-q4r7t"),
    ]
    assert len(pods) == 12


def test_the_last_page_has_no_token() -> None:
    _, token = read_page(POD_LIST)
    assert token is None
    _, token = read_page(b'{"kind": "PodList", "items": [], "metadata": {"continue": ""}}')
    assert token is None


def test_an_empty_list_may_say_null() -> None:
    assert read_page(b'{"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": null}') == ([], None)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html>502 Bad Gateway</html>", "JSON"),
        (b'{"kind": "Status", "status": "Failure", "message": "nope", "code": 500}', "items"),
        (
            b'{"items": [{"metadata": {"name": "a"}, "status": {"containerStatuses": [{"restartCount": "3"}]}}]}',
            "$.items[0].status.containerStatuses[0].restartCount",
        ),
        (b"[]", "object"),
    ],
)
def test_a_body_that_is_no_pod_list_says_where(body: bytes, says: str) -> None:
    with pytest.raises(NotAPodList) as raised:
        read_page(body)
    assert says in str(raised.value)
