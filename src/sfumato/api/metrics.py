"""Prometheus metrics: HTTP requests (count and latency by route template, never by raw path, so ids do not
explode the series), and at each scrape what the database says about jobs and webhook deliveries."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sfumato.services.operations import Operations

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """Counts and times every HTTP request. Per app (its own registry), so test apps never share series."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "sfumato_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "sfumato_http_request_duration_seconds",
            "Time to answer an HTTP request (until the response starts)",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"  # "/generations/{id}", not the id
            self.requests.labels(scope["method"], template, str(status)).inc()
            self.latency.labels(scope["method"], template).observe(time.perf_counter() - started)


class JobCollector(Collector):
    """Jobs by kind and status, queue depth, job latency, webhook deliveries: read at scrape time."""

    def __init__(self, operations: Operations) -> None:
        self._ops = operations

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("sfumato_jobs", "Jobs in the database by kind and status", labels=["kind", "status"])
        depth = GaugeMetricFamily("sfumato_queue_depth", "Jobs waiting to run (PENDING) by kind", labels=["kind"])
        pending: dict[str, int] = {}
        for (kind, status), n in sorted(self._ops.job_counts().items()):
            jobs.add_metric([kind, status], n)
            if status == "PENDING":
                pending[kind] = n
        for kind, n in pending.items():
            depth.add_metric([kind], n)
        latencies = self._ops.job_latencies()
        finished = GaugeMetricFamily(
            "sfumato_jobs_finished_recent", "Jobs that reached a final status in the last 15 minutes", labels=["kind"]
        )
        duration = GaugeMetricFamily(
            "sfumato_job_duration_seconds",
            "Seconds from a job's creation to its final status: quantiles over the jobs of the last 15 minutes",
            labels=["kind", "quantile"],
        )
        for item in latencies:
            finished.add_metric([item.kind], item.count)
            for q, seconds in item.quantiles.items():
                duration.add_metric([item.kind, str(q)], seconds)
        webhooks = GaugeMetricFamily("sfumato_webhook_deliveries", "Webhook outbox rows by status", labels=["status"])
        for status, n in sorted(self._ops.webhook_deliveries().items()):
            webhooks.add_metric([status], n)
        yield from (jobs, depth, finished, duration, webhooks)
