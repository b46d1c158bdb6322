"""Prometheus metrics of one server process (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """The server's counters and histograms, in their own registry."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "intently_http_requests", "HTTP requests answered", ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "intently_http_request_duration_seconds", "Time from request to response", ["endpoint"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge("intently_http_requests_in_flight", "Requests being answered", registry=self.registry)
        self.batch_size = Histogram(
            "intently_parse_batch_size", "Texts parsed together in one batch", buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.model_load = Histogram(
            "intently_model_load_seconds", "Time to load a model archive",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=self.registry,
        )
        self.models_loaded = Gauge("intently_models_loaded", "Models held by the server", registry=self.registry)
        self.model_pulls = Counter(
            "intently_model_server_pulls", "Model server polls by outcome", ["outcome"], registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
