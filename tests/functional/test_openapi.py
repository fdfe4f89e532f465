"""The OpenAPI document is valid 3.1, and its docs page works without any CDN."""

from __future__ import annotations

from html.parser import HTMLParser

from flask.testing import FlaskClient
from openapi_spec_validator import validate


class AssetLinks(HTMLParser):
    """Collects what a page loads: script sources and linked stylesheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def test_openapi_document_is_valid_3_1(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec is not None
    assert spec["openapi"].startswith("3.1.")
    validate(spec)
    assert {"/healthz", "/readyz", "/metrics", "/.well-known/jwks.json"} <= set(spec["paths"])
    assert spec["paths"]["/healthz"]["get"]["summary"] == "Liveness: the process answers."


def test_docs_page_loads_only_local_assets(client: FlaskClient) -> None:
    page = client.get("/docs/")
    assert page.status_code == 200, page.status
    assert page.mimetype == "text/html"
    links = AssetLinks()
    links.feed(page.get_data(as_text=True))

    assert any(url.endswith("swagger-ui-bundle.js") for url in links.urls)
    for url in links.urls:
        assert url.startswith("/") and not url.startswith("//"), f"{url} is not local"
        with client.get(url) as asset:  # a file response: close it
            assert asset.status_code == 200, url
            assert asset.data, url
    assert "/openapi.json" in page.get_data(as_text=True)
