"""HTTP push endpoint for head-ends that post blocks: ``POST /v1/blocks``.

A request carries one block in the binary wire format (``application/octet-stream``), or JSON: one
block object or an array of them (docs/wire-format.md). It must bear a token (``Authorization:
Bearer …``) whose SHA-256 is configured (``M2C_PUSH_TOKENS``) with the head-end's name and the meters
it may write (glob patterns of meter numbers). Every block of a request is decoded first; one bad
block refuses the whole request (400, with its index and reason; 403 for a meter outside the token's
scope) so the head-end can resend it whole. A client address that keeps presenting wrong tokens
waits longer and longer (429 with Retry-After), and is locked for a while. The answer (202) comes only after Kafka acknowledged every block (acks=all);
if Kafka does not within the delivery timeout, the answer is 503 and the head-end resends.
"""
from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from aiohttp import web
from confluent_kafka import KafkaException, Producer
from prometheus_client import CollectorRegistry, Counter, generate_latest

from storage.throttle import MemoryThrottle, Policy
from meterdata.codec import DecodeError, decode, decode_object, encode_binary
from streams.errors import PushTokensInvalid

MAX_BODY = 1_048_576  # bytes per request
MAX_BLOCKS = 500  # blocks per request
DELIVERY_TIMEOUT = 30.0


def new_token() -> tuple[str, str]:
    """(token to give the head-end, its SHA-256 to configure)."""
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class HeadEnd:
    name: str
    meters: tuple[str, ...]  # glob patterns of the meter numbers it may write ("*": any)

    def may_write(self, meter_no: str) -> bool:
        return any(fnmatch.fnmatchcase(meter_no, pattern) for pattern in self.meters)


_SCOPE = re.compile(r"^[A-Za-z0-9_.:\-*?\[\]]{1,64}$")


def parse_tokens(text: str) -> dict[str, HeadEnd]:
    """``name:sha256hex:pattern|pattern,...`` -> {digest: head-end}; a pattern is a glob of meter
    numbers (``E00*``), ``*`` for any meter."""
    tokens = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, digest, scope = (item.split(":", 2) + ["", ""])[:3]
        if not name or len(digest) != 64:
            raise PushTokensInvalid(f"push token {item[:20]!r}…: expected NAME:SHA256HEX:METERS")
        patterns = tuple(p for p in scope.split("|") if p)
        if not patterns or not all(_SCOPE.match(p) for p in patterns):
            raise PushTokensInvalid(f"push token of {name}: name the meters it may write after the digest "
                             "(NAME:SHA256HEX:E00*|W00*, or * for any meter)")
        tokens[digest.lower()] = HeadEnd(name, patterns)
    return tokens


class KafkaSender:
    """A producer whose deliveries resolve asyncio futures; a thread serves its callbacks."""

    def __init__(self, bootstrap: str, topic: str, timeout: float = DELIVERY_TIMEOUT):
        self.topic = topic
        self.timeout = timeout
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                                  "linger.ms": 5, "message.timeout.ms": int(timeout * 1000), "log_level": 0})
        self.running = True
        self.thread = threading.Thread(target=self._serve, name="push-producer", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            self.producer.poll(0.05)

    async def send(self, messages: list[tuple[bytes, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        futures = []
        for key, value in messages:
            future = loop.create_future()

            def delivered(error, _message, future=future):
                outcome = KafkaException(error) if error is not None else None
                loop.call_soon_threadsafe(_settle, future, outcome)

            while True:
                try:
                    self.producer.produce(self.topic, value=value, key=key, on_delivery=delivered)
                    break
                except BufferError:
                    await asyncio.sleep(0.01)
            futures.append(future)
        await asyncio.wait_for(asyncio.gather(*futures), self.timeout + 5)

    def close(self) -> None:
        self.producer.flush(10)
        self.running = False
        self.thread.join(5)


def _settle(future: asyncio.Future, error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def decode_request(content_type: str, body: bytes) -> list:
    """The blocks of a request body; raises DecodeError (with the block's index in the detail)."""
    if content_type == "application/octet-stream":
        return [decode(body)]
    if content_type != "application/json":
        raise DecodeError("bad_content_type", "send application/json or application/octet-stream")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise DecodeError("bad_json", str(error)[:200]) from None
    items = document if isinstance(document, list) else [document]
    if not items or len(items) > MAX_BLOCKS:
        raise DecodeError("bad_request", f"1 to {MAX_BLOCKS} blocks per request")
    blocks = []
    for index, item in enumerate(items):
        try:
            blocks.append(decode_object(item))
        except DecodeError as error:
            raise DecodeError(error.reason, f"block {index}: {error.detail}") from None
    return blocks


class PushMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("m2c_push_requests_total", "Push requests by answer", ["status"],
                                registry=self.registry)
        self.accepted = Counter("m2c_push_blocks_total", "Blocks accepted and acknowledged by Kafka", ["head_end"],
                                registry=self.registry)
        self.auth_failures = Counter("m2c_push_auth_failures_total", "Requests with a missing or wrong token",
                                     registry=self.registry)
        self.lockouts = Counter("m2c_push_lockouts_total", "Client addresses locked after repeated wrong tokens",
                                registry=self.registry)


# wrong tokens from one address: a head-end misconfigured after a rotation retries often, so a few more free
TOKEN_GUESSES = Policy(free_failures=5, lock_after=50)


def make_app(sender: KafkaSender, tokens: dict[str, HeadEnd], metrics: PushMetrics | None = None,
             clock=lambda: datetime.now(timezone.utc)) -> web.Application:
    metrics = metrics or PushMetrics()
    requests, accepted, registry = metrics.requests, metrics.accepted, metrics.registry
    auth_failures, lockouts = metrics.auth_failures, metrics.lockouts
    guesses = MemoryThrottle(TOKEN_GUESSES)

    def answer(status: int, headers: dict | None = None, **body) -> web.Response:
        requests.labels(str(status)).inc()
        return web.json_response(body, status=status, headers=headers)

    async def blocks(request: web.Request) -> web.Response:
        address, now = request.remote or "unknown", clock()
        verdict = guesses.check(address, now)
        if not verdict.allowed:
            wait = max(1, math.ceil(verdict.retry_after_s))
            return answer(429, {"Retry-After": str(wait)}, error="too_many_failures",
                          detail=f"too many wrong tokens from this address: try again in {wait} s")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""  # schemes are case-insensitive
        digest = hashlib.sha256(token.encode()).hexdigest()
        head_end = next((known for d, known in tokens.items() if hmac.compare_digest(d, digest)), None)
        if not token or head_end is None:
            if guesses.fail(address, now):
                lockouts.inc()
            auth_failures.inc()
            return answer(401, error="unauthorized", detail="a valid bearer token is required")
        guesses.succeed(address)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return answer(413, error="too_large", detail=f"at most {MAX_BODY} bytes per request")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return answer(413, error="too_large", detail=f"at most {MAX_BODY} bytes per request")
        try:
            decoded = decode_request(request.content_type, body)
        except DecodeError as error:
            return answer(400, error=error.reason, detail=error.detail)
        outside = next((i for i, b in enumerate(decoded) if not head_end.may_write(b.meter_id)), None)
        if outside is not None:
            return answer(403, error="meter_out_of_scope", detail=f"block {outside}: meter "
                          f"{decoded[outside].meter_id} is not one of {head_end.name}'s")
        try:
            await sender.send([(b.meter_id.encode(), encode_binary(b)) for b in decoded])
        except (KafkaException, asyncio.TimeoutError) as error:
            return answer(503, error="kafka_unavailable", detail=str(error)[:200])
        accepted.labels(head_end.name).inc(len(decoded))
        return answer(202, accepted=len(decoded), reads=sum(len(b.values) for b in decoded))

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/v1/blocks", blocks)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    return app


def serve(bootstrap: str, topic: str, tokens: dict[str, HeadEnd], host: str, port: int,
          delivery_timeout: float = DELIVERY_TIMEOUT) -> None:
    sender = KafkaSender(bootstrap, topic, delivery_timeout)
    try:
        web.run_app(make_app(sender, tokens), host=host, port=port, print=None, handle_signals=True)
    finally:
        sender.close()
