"""Read series off ``/metrics`` as a Prometheus server would."""

from __future__ import annotations

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families


def exposition(client: FlaskClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample: (name, labels, value)."""
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def scrape(client: FlaskClient, name: str, label: str | None = None) -> dict[str, float]:
    """The samples called ``name``, by the value of ``label`` ("" without one)."""
    return {
        (labels.get(label, "") if label else ""): value
        for sample_name, labels, value in samples(exposition(client))
        if sample_name == name
    }
