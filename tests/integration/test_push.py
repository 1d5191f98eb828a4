"""The HTTP push endpoint in its own process, against the real broker."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace

import numpy as np
import pytest

from scenarios.harness import wait_until_serving
from meterdata.codec import Block, decode, encode_binary
from streams.push import new_token
from streams.topics import ensure_topics
from tests.integration.test_kafka_worker import consume_all

pytestmark = pytest.mark.integration
PORT = 9351


def post(body: bytes, content_type: str, token: str | None, scheme: str = "Bearer") -> tuple[int, dict]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}/v1/blocks", body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start_server(settings, tmp_path, *extra):
    token, digest = new_token()
    configured = replace(settings, push_tokens=f"headend-a:{digest}:E*|W0000003")
    process = subprocess.Popen([sys.executable, "-m", "meter2cash.cli", "push", "serve", "--port", str(PORT), *extra],
                               env={**os.environ, **configured.to_env()}, stderr=open(tmp_path / "push.log", "w"))
    wait_until_serving(f"http://127.0.0.1:{PORT}/healthz")
    return process, token


@pytest.fixture
def server(settings, tmp_path):
    ensure_topics(settings)
    process, token = start_server(settings, tmp_path)
    yield token
    process.terminate()
    process.wait(10)


def test_push_accepts_blocks_after_kafka_acknowledged_and_refuses_the_rest(settings, server):
    token = server
    one = {"meter_id": "E0000001", "channel": 1, "start": "2026-11-02T06:00:00Z", "interval_s": 900,
           "values": [412, 398]}
    two = dict(one, meter_id="E0000002", values=[7])
    binary = Block("W0000003", 1, 1_793_000_000 - 1_793_000_000 % 3600, 3600, np.array([5, 6, 7]), np.zeros(3, np.uint8))

    assert post(json.dumps(one).encode(), "application/json", None)[0] == 401
    assert post(json.dumps(one).encode(), "application/json", "not-the-token")[0] == 401
    status, body = post(json.dumps([one, dict(two, values=[1.5])]).encode(), "application/json", token)
    assert (status, body["error"]) == (400, "non_integer_value") and "block 1" in body["detail"]
    assert post(b"{" * 10, "application/json", token)[0] == 400
    assert post(b"x" * 2_000_000, "application/octet-stream", token)[0] == 413
    assert post(b"meter,value", "text/csv", token)[0] == 400

    assert post(json.dumps([one, two]).encode(), "application/json", token) == (202, {"accepted": 2, "reads": 3})
    assert post(encode_binary(binary), "application/octet-stream", token) == (202, {"accepted": 1, "reads": 3})

    # only the accepted blocks are on the topic, keyed by meter
    messages = consume_all(settings, settings.topic_raw, expected=3, timeout=30)
    got = sorted((m.key(), decode(m.value()).meter_id, list(decode(m.value()).values)) for m in messages)
    assert got == [(b"E0000001", "E0000001", [412, 398]), (b"E0000002", "E0000002", [7]),
                   (b"W0000003", "W0000003", [5, 6, 7])]
    assert len(consume_all(settings, settings.topic_raw, expected=4, timeout=3)) == 3

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5).read().decode()
    assert 'm2c_push_blocks_total{head_end="headend-a"} 3.0' in metrics
    assert 'm2c_push_requests_total{status="401"} 2.0' in metrics

    # the scheme is case-insensitive; a meter outside the token's scope refuses the whole request
    assert post(json.dumps(one).encode(), "application/json", token, scheme="bearer")[0] == 202
    status, body = post(json.dumps([one, dict(one, meter_id="G0000009")]).encode(), "application/json", token)
    assert (status, body["error"]) == (403, "meter_out_of_scope") and "block 1" in body["detail"]
    # wrong tokens from one address: a few are answered 401, then every request waits, the right token too
    answers = [post(json.dumps(one).encode(), "application/json", f"guess-{n}")[0] for n in range(6)]
    assert answers == [401] * 5 + [429]
    status, body = post(json.dumps(one).encode(), "application/json", token)
    assert (status, body["error"]) == (429, "too_many_failures")
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5).read().decode()
    assert "m2c_push_auth_failures_total 7.0" in metrics


def test_push_refuses_to_start_without_tokens(settings):
    run = subprocess.run([sys.executable, "-m", "meter2cash.cli", "push", "serve", "--port", str(PORT + 1)],
                         env={**os.environ, **replace(settings, push_tokens="").to_env()}, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 2 and run.stderr.startswith("error: no_push_tokens:")
    unscoped = "headend-a:" + "0" * 64  # a token that does not say which meters it may write
    run = subprocess.run([sys.executable, "-m", "meter2cash.cli", "push", "serve", "--port", str(PORT + 1)],
                         env={**os.environ, **replace(settings, push_tokens=unscoped).to_env()}, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 2 and run.stderr.startswith("error: bad_push_tokens:") and "meters" in run.stderr


def test_push_answers_503_when_kafka_does_not_acknowledge(settings, tmp_path):
    nowhere = replace(settings, kafka_bootstrap="127.0.0.1:1")  # nothing listens there
    process, token = start_server(nowhere, tmp_path, "--delivery-timeout", "2")
    try:
        block = {"meter_id": "E0000001", "channel": 1, "start": "2026-11-02T06:00:00Z", "interval_s": 900,
                 "values": [1]}
        started = time.monotonic()
        status, body = post(json.dumps(block).encode(), "application/json", token)
        assert (status, body["error"]) == (503, "kafka_unavailable")
        assert time.monotonic() - started >= 2
    finally:
        process.terminate()
        process.wait(10)
