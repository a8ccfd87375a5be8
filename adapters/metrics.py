"""Optional Prometheus metrics of one adapter process, on TERTULIA_METRICS_PORT (+ offset)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

from adapters.platforms import PLATFORMS
from config.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Each adapter process serves its own metrics: `tertulia run` starts one per platform, so
# each adds its platform's place in the registry to the base port. Fixed per platform,
# not per configured one: configuring another platform later moves no scrape target.
OFFSETS = {name: i for i, name in enumerate(PLATFORMS)}

LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
FIRST_TOKEN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


def for_platform(settings: Settings, platform: str) -> Settings:
    """`settings` with the metrics port of `platform`'s process (base port + its offset)."""
    base = settings.metrics_port
    if base is None:
        return settings
    port = base + OFFSETS[platform]
    if port > 65535:
        raise SettingsError(
            f"TERTULIA_METRICS_PORT: {base} + {OFFSETS[platform]} for {platform} passes 65535"
        )
    return settings.model_copy(update={"metrics_port": port})


class Metrics:
    """The process's collectors, in a registry of its own (no global state between tests)."""

    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        # process_start_time_seconds, memory and CPU (read from /proc on Linux).
        ProcessCollector(registry=self.registry)
        self.replies = Counter(
            "tertulia_replies",
            "Model replies by platform and outcome as finally delivered.",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tertulia_reply_latency_seconds",
            "From asking the model to its last word (what /stats reports).",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_token = Histogram(
            "tertulia_reply_first_token_seconds",
            "From asking the model to its first word.",
            ["platform"],
            buckets=FIRST_TOKEN_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "tertulia_model_tokens",
            "Tokens of the model's replies (estimated as the store records them).",
            ["platform"],
            registry=self.registry,
        )
        depth = Gauge(
            "tertulia_queue_depth",
            "Messages this process is answering or holding in line right now.",
            registry=self.registry,
        )
        depth.set_function(lambda: float(queue_depth()))

    def count(self, line: dict[str, Any]) -> None:
        """One finished reply, from its log line's fields."""
        platform = line["platform"]
        self.replies.labels(platform, line["outcome"]).inc()
        if line["latency_ms"] is not None:
            self.latency.labels(platform).observe(line["latency_ms"] / 1000)
        if line["first_token_ms"] is not None:
            self.first_token.labels(platform).observe(line["first_token_ms"] / 1000)
        if line["tokens"]:
            self.tokens.labels(platform).inc(line["tokens"])


@asynccontextmanager
async def serving(settings: Settings, queue_depth: Callable[[], int]) -> AsyncIterator[Metrics]:
    """Serve /metrics on TERTULIA_METRICS_HOST:PORT until the block ends.

    The server runs in a daemon thread of its own: a scrape never waits on the event loop.
    """
    metrics = Metrics(queue_depth)
    host, port = settings.metrics_host, settings.metrics_port
    assert port is not None
    try:
        server, thread = start_http_server(port, host, registry=metrics.registry)
    except OSError as exc:
        raise SettingsError(
            f"TERTULIA_METRICS_PORT: cannot listen on {host}:{port}: {exc}"
        ) from None
    log.info("metrics on http://%s:%d/metrics", host, port)
    try:
        yield metrics
    finally:
        # shutdown() waits for the serving loop's next poll: off the event loop.
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        await asyncio.to_thread(thread.join, 5.0)
