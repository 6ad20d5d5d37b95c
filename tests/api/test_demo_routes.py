"""The demo page's routes (the page itself is tested in a browser: tests/browser)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import serving


def test_the_page_and_its_files_are_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<textarea" in page.text and "/demo/demo.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert client.get("/demo/demo.js").headers["content-type"] == "text/javascript; charset=utf-8"
    assert client.get("/demo/demo.css").headers["content-type"].startswith("text/css")
    missing = client.get("/demo/../app.py")
    assert missing.status_code == 404
    assert client.get("/demo/secret.txt").json() == {"detail": "no demo file 'secret.txt'"}
    # Nothing is fetched from outside the service.
    for name in ("/", "/demo/demo.js", "/demo/demo.css"):
        assert "http://" not in client.get(name).text and "https://" not in client.get(name).text


def test_the_page_is_off_with_tagger_demo_false() -> None:
    with serving(demo=False) as client:
        assert client.get("/").status_code == 404
        assert client.get("/demo/demo.js").status_code == 404
        assert client.get("/ready").status_code == 200
