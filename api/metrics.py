"""Prometheus metrics, on a registry per app so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tagger_requests", "HTTP requests by route and status", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "tagger_request_latency_seconds",
            "request latency by route",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "tagger_batch_requests",
            "requests merged into one forward pass",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.batch_tokens = Histogram(
            "tagger_batch_tokens",
            "tokens in one forward pass",
            buckets=(16, 64, 256, 1024, 4096, 16384),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "tagger_queue_depth", "requests waiting for the inference thread", registry=self.registry
        )
        self.tokens = Counter("tagger_tokens", "tokens tagged", registry=self.registry)

    def observe_batch(self, requests: int, tokens: int) -> None:
        self.batch_requests.observe(requests)
        self.batch_tokens.observe(tokens)
        self.tokens.inc(tokens)
