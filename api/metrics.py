"""Prometheus metrics, on a registry per app so several apps (tests) never collide."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

CacheStats = Callable[[], dict[str, tuple[int, int, int]]]  # model -> (hits, misses, words)


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
        self.merged_requests = Histogram(
            "tagger_merged_requests",
            "requests merged into one call of the tagger",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.merged_tokens = Histogram(
            "tagger_merged_tokens",
            "tokens of the requests merged into one call of the tagger",
            buckets=(16, 64, 256, 1024, 4096, 16384),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "tagger_queue_depth", "requests waiting for the inference thread", registry=self.registry
        )
        self.tokens = Counter("tagger_tokens", "tokens tagged", registry=self.registry)
        self.refusals = Histogram(
            "tagger_overload_refusal_seconds",
            "server time from a request's arrival to its 503 when the service is full",
            buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1),
            registry=self.registry,
        )
        self.disconnects = Counter(
            "tagger_client_disconnects",
            "requests whose client left before the answer (their queued work is dropped)",
            ["route"],
            registry=self.registry,
        )

    def observe_pass(self, requests: int, tokens: int) -> None:
        self.merged_requests.observe(requests)
        self.merged_tokens.observe(tokens)
        self.tokens.inc(tokens)

    def watch_char_caches(self, stats: CacheStats) -> None:
        """Export the labeler's word caches, read at each scrape (they count themselves)."""
        self.registry.register(_CharCacheCollector(stats))


class _CharCacheCollector:
    def __init__(self, stats: CacheStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            "tagger_char_cache_lookups",
            "lookups in a model's word memo (onnx backends: whole input rows, per token; "
            "torch: character vectors, per distinct word of a batch)",
            labels=["model", "result"],
        )
        words = GaugeMetricFamily("tagger_char_cache_words", "words in a model's word memo", labels=["model"])
        for model, (hits, misses, held) in self.stats().items():
            lookups.add_metric([model, "hit"], hits)
            lookups.add_metric([model, "miss"], misses)
            words.add_metric([model], held)
        yield lookups
        yield words
