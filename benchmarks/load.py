"""An HTTP load generator in a second process (asyncio + aiohttp, keep-alive): ``connections``
concurrent clients go through a list of requests in turn, for a time or until each was sent once.
Returns what the client saw: requests, errors, requests/s and latency percentiles."""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    token: str
    body: dict | None = None
    cookie: bool = False  # a page: the session as a cookie, as a browser sends it


@dataclass
class Seen:
    requests: int = 0
    errors: int = 0
    statuses: dict = field(default_factory=dict)
    latencies: list = field(default_factory=list)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _client(base: str, calls: list[Call], seconds: float | None, connections: int, cookie_name: str, out) -> None:
    import aiohttp

    async def main() -> Seen:
        seen = Seen()
        stop = time.perf_counter() + (seconds or 1e9)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
            async def worker(offset: int) -> None:
                n = offset
                while time.perf_counter() < stop and (seconds is not None or n < len(calls)):
                    call = calls[n % len(calls)]
                    n += connections
                    headers = {"Cookie": f"{cookie_name}={call.token}", "Origin": base} if call.cookie \
                        else {"Authorization": f"Bearer {call.token}"}
                    data = None
                    if call.body is not None:
                        headers["Content-Type"] = "application/json"
                        data = json.dumps(call.body)
                    started = time.perf_counter()
                    async with session.request(call.method, base + call.path, headers=headers, data=data) as answer:
                        await answer.read()
                        seen.statuses[answer.status] = seen.statuses.get(answer.status, 0) + 1
                        if answer.status >= 400:
                            seen.errors += 1
                    seen.latencies.append(time.perf_counter() - started)
                    seen.requests += 1
            await asyncio.gather(*(worker(k) for k in range(connections)))
        return seen

    seen = asyncio.run(main())
    out.send((seen.requests, seen.errors, seen.statuses, seen.latencies))


def run_load(base: str, calls: list[Call], connections: int, seconds: float | None = None,
             warm_up_s: float = 3.0, cookie_name: str = "m2c_session") -> dict:
    """Send ``calls`` from ``connections`` clients: for ``seconds`` (round and round), or each once
    (``seconds`` None). A warm-up of the same calls comes first when ``warm_up_s``."""
    if warm_up_s:
        _in_process(base, calls, warm_up_s, connections, cookie_name)
    started = time.perf_counter()
    requests, errors, statuses, latencies = _in_process(base, calls, seconds, connections, cookie_name)
    elapsed = time.perf_counter() - started
    return {"requests": requests, "errors": errors, "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "seconds": round(elapsed, 2), "requests_per_s": round(requests / (seconds or elapsed)),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 2), "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "connections": connections}


def _in_process(base, calls, seconds, connections, cookie_name):
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(target=_client, args=(base, calls, seconds, connections, cookie_name, sender))
    process.start()
    answer = receiver.recv()
    process.join()
    return answer
