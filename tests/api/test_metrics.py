"""api/metrics.py: what a Prometheus scrape of an app's registry shows."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import Metrics


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by (sample name, sorted labels)."""
    text = generate_latest(metrics.registry).decode("utf-8")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_observe_pass_counts_requests_and_tokens() -> None:
    metrics = Metrics()
    metrics.observe_pass(3, 120)
    samples = scrape(metrics)
    assert value(samples, "tagger_merged_requests_count") == 1.0
    assert value(samples, "tagger_merged_requests_sum") == 3.0
    assert value(samples, "tagger_merged_tokens_count") == 1.0
    assert value(samples, "tagger_merged_tokens_sum") == 120.0
    assert value(samples, "tagger_tokens_total") == 120.0


def test_observe_pass_fills_the_buckets() -> None:
    metrics = Metrics()
    metrics.observe_pass(3, 120)
    samples = scrape(metrics)
    assert value(samples, "tagger_merged_requests_bucket", le="2.0") == 0.0
    assert value(samples, "tagger_merged_requests_bucket", le="4.0") == 1.0
    assert value(samples, "tagger_merged_requests_bucket", le="+Inf") == 1.0
    assert value(samples, "tagger_merged_tokens_bucket", le="64.0") == 0.0
    assert value(samples, "tagger_merged_tokens_bucket", le="256.0") == 1.0


def test_observe_pass_accumulates() -> None:
    metrics = Metrics()
    metrics.observe_pass(3, 120)
    metrics.observe_pass(1, 7)
    samples = scrape(metrics)
    assert value(samples, "tagger_merged_requests_count") == 2.0
    assert value(samples, "tagger_merged_requests_sum") == 4.0
    assert value(samples, "tagger_merged_tokens_count") == 2.0
    assert value(samples, "tagger_merged_tokens_sum") == 127.0
    assert value(samples, "tagger_tokens_total") == 127.0


def test_fresh_metrics_are_zero() -> None:
    samples = scrape(Metrics())
    assert value(samples, "tagger_merged_requests_count") == 0.0
    assert value(samples, "tagger_tokens_total") == 0.0
    assert value(samples, "tagger_queue_depth") == 0.0


def test_char_caches_are_read_at_each_scrape() -> None:
    stats = {"ner": (5, 2, 7), "pos": (0, 1, 1)}
    calls = 0

    def read() -> dict[str, tuple[int, int, int]]:
        nonlocal calls
        calls += 1
        return dict(stats)

    metrics = Metrics()
    metrics.watch_char_caches(read)
    samples = scrape(metrics)
    assert value(samples, "tagger_char_cache_lookups_total", model="ner", result="hit") == 5.0
    assert value(samples, "tagger_char_cache_lookups_total", model="ner", result="miss") == 2.0
    assert value(samples, "tagger_char_cache_words", model="ner") == 7.0
    assert value(samples, "tagger_char_cache_lookups_total", model="pos", result="hit") == 0.0
    assert value(samples, "tagger_char_cache_lookups_total", model="pos", result="miss") == 1.0
    assert value(samples, "tagger_char_cache_words", model="pos") == 1.0

    stats["ner"] = (50, 20, 30)
    del stats["pos"]
    before = calls
    samples = scrape(metrics)
    assert calls > before
    assert value(samples, "tagger_char_cache_lookups_total", model="ner", result="hit") == 50.0
    assert value(samples, "tagger_char_cache_lookups_total", model="ner", result="miss") == 20.0
    assert value(samples, "tagger_char_cache_words", model="ner") == 30.0
    assert value(samples, "tagger_char_cache_words", model="pos") is None
    assert value(samples, "tagger_char_cache_lookups_total", model="pos", result="hit") is None


def test_char_caches_with_no_models_export_nothing() -> None:
    metrics = Metrics()
    metrics.watch_char_caches(dict)
    names = {name for name, _ in scrape(metrics)}
    assert not any(name.startswith("tagger_char_cache") for name in names)
    assert "tagger_tokens_total" in names


def test_two_instances_do_not_collide() -> None:
    first, second = Metrics(), Metrics()  # the same metric names on each: no "Duplicated timeseries" error
    first.observe_pass(3, 120)
    second.observe_pass(5, 10)
    second.observe_pass(1, 1)
    first.watch_char_caches(lambda: {"ner": (1, 2, 3)})
    second.watch_char_caches(lambda: {"ner": (4, 5, 6)})
    a, b = scrape(first), scrape(second)
    assert value(a, "tagger_tokens_total") == 120.0
    assert value(b, "tagger_tokens_total") == 11.0
    assert value(a, "tagger_merged_requests_count") == 1.0
    assert value(b, "tagger_merged_requests_count") == 2.0
    assert value(a, "tagger_char_cache_words", model="ner") == 3.0
    assert value(b, "tagger_char_cache_words", model="ner") == 6.0


def test_request_counter_and_latency_have_their_labels() -> None:
    metrics = Metrics()
    metrics.requests.labels(route="/tag", status="200").inc()
    metrics.latency.labels(route="/tag").observe(0.003)
    metrics.queue_depth.set(4)
    samples = scrape(metrics)
    assert value(samples, "tagger_requests_total", route="/tag", status="200") == 1.0
    assert value(samples, "tagger_request_latency_seconds_count", route="/tag") == 1.0
    assert value(samples, "tagger_request_latency_seconds_bucket", route="/tag", le="0.002") == 0.0
    assert value(samples, "tagger_request_latency_seconds_bucket", route="/tag", le="0.005") == 1.0
    assert value(samples, "tagger_queue_depth") == 4.0
