"""The demo page in a real headless Chromium (Debian's package; browsers cannot be
downloaded here), against the real server on a loopback port.

Skipped, with the reason in the summary, where Playwright or a Chromium is missing:
`.ci/run` installs both (`apt-get install chromium`). ``TAGGER_CHROMIUM`` names another
Chromium binary. With ``TAGGER_WRITE_SCREENSHOT=1`` the screenshot test also writes
docs/demo.png, the README's picture.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.server_process import running_server

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
CHROMIUM = os.environ.get("TAGGER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium found: apt-get install chromium (or set TAGGER_CHROMIUM)", allow_module_level=True)

MAX_CHARS = 2000
NEWS = (
    "German Chancellor Angela Merkel met French President Emmanuel Macron in Paris on Monday. "
    "The European Union and NATO officials said the talks covered the Airbus contract, "
    "and Reuters reported that the Bundesbank welcomed the agreement."
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["TAGGER_MAX_CHARS"] = str(MAX_CHARS)
    work = tmp_path_factory.mktemp("server")
    with running_server([sys.executable, "-m", "tagger", "serve"], work, env) as http:
        yield str(http.base_url).rstrip("/")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server + "/")
    page.wait_for_selector('input[name="model"]')  # the service's models are listed
    page.dialogs = dialogs
    yield page
    context.close()


# The rendered view's characters without the POS tags and entity labels it adds.
SHOWN_TEXT = (
    "r => { const c = r.cloneNode(true); c.querySelectorAll('.pos, .ent-label').forEach(n => n.remove()); "
    "return c.textContent; }"
)


def tag(page: Any, text: str) -> None:
    page.fill("#text", text)
    page.click("#tag")
    page.wait_for_selector("#result:not([hidden]), #message:not([hidden])")


def test_entities_are_highlighted_with_types_offsets_and_scores(page: Any) -> None:
    text = "Angela Merkel visited Paris."
    tag(page, text)
    marks = page.eval_on_selector_all(
        "#rendered mark.ent",
        "ms => ms.map(m => [m.dataset.label, +m.dataset.start, +m.dataset.end, m.title, "
        "[...m.querySelectorAll('.form')].map(f => f.textContent).join(' ')])",
    )
    assert [(label, start, end, words) for label, start, end, _, words in marks] == [
        ("PER", 0, 13, "Angela Merkel"),
        ("LOC", 22, 27, "Paris"),
    ]
    assert all(title.startswith(f"{label} (score 0.") for label, *_, title, _ in marks)
    # The characters each mark covers are the text's own, and the view shows the text as typed.
    assert [text[start:end] for _, start, end, *_ in marks] == ["Angela Merkel", "Paris"]
    assert page.eval_on_selector("#rendered", SHOWN_TEXT) == text
    rows = page.eval_on_selector_all("#entities tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))")
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("Angela Merkel", "PER", "0", "13"),
        ("Paris", "LOC", "22", "27"),
    ]
    # The raw JSON is the API's answer, collapsed until asked for.
    assert page.eval_on_selector("#raw", "d => d.open") is False
    assert '"label": "PER"' in page.text_content("#json")


def test_every_token_shows_its_pos_tag(page: Any) -> None:
    tag(page, "Angela Merkel visited Paris.")
    tokens = page.eval_on_selector_all(
        "#rendered .tok", "ts => ts.map(t => [t.querySelector('.form').textContent, t.dataset.pos])"
    )
    assert [form for form, _ in tokens] == ["Angela", "Merkel", "visited", "Paris", "."]
    assert dict(tokens)["Angela"] == "PROPN" and dict(tokens)["visited"] == "VERB" and dict(tokens)["."] == "PUNCT"


def test_the_legend_colours_all_four_conll_types(page: Any) -> None:
    tag(page, "Angela Merkel visited Paris.")
    legend = page.eval_on_selector_all(
        "#legend li", "ls => ls.map(l => [l.dataset.type, getComputedStyle(l).backgroundColor])"
    )
    colours = dict(legend)
    assert list(colours)[:4] == ["PER", "LOC", "ORG", "MISC"]
    assert len({colours[t] for t in ("PER", "LOC", "ORG", "MISC")}) == 4
    assert "rgba(0, 0, 0, 0)" not in colours.values()


def test_html_in_the_input_shows_literally(page: Any) -> None:
    attack = "<img src=x onerror=alert(1)> <script>alert(2)</script> Paris"
    tag(page, attack)
    assert page.query_selector("#rendered img") is None and page.query_selector("#rendered script") is None
    assert page.eval_on_selector("#rendered", SHOWN_TEXT) == attack  # every character, as typed
    assert '"text": "onerror"' in page.text_content("#json")  # the raw JSON is text too
    assert page.dialogs == []


def test_an_empty_input_says_so(page: Any) -> None:
    tag(page, "   ")
    assert page.text_content("#message") == "Type or paste some text to tag first."
    assert page.is_hidden("#result")


def test_an_over_long_input_shows_the_services_message(page: Any) -> None:
    tag(page, "word " * (MAX_CHARS // 5 + 10))
    message = page.text_content("#message")
    assert message.startswith("The service refused the request (422): document 0 has")
    assert f"limit max_chars={MAX_CHARS}" in message


def test_an_overloaded_service_is_reported_not_a_blank_page(page: Any) -> None:
    # The page's handling of the 503 the service sends when overloaded, exactly as sent.
    body = '{"detail": "overloaded: 256 requests in the service; retry later"}'
    page.route(
        "**/tag",
        lambda route: route.fulfill(
            status=503, body=body, headers={"content-type": "application/json", "retry-after": "1"}
        ),
    )
    tag(page, "Angela Merkel visited Paris.")
    assert page.text_content("#message") == (
        "The service is not ready or is overloaded (503): overloaded: 256 requests in the service; "
        "retry later. Retry in 1 s."
    )


def test_screenshot_of_a_news_paragraph(page: Any, tmp_path: Path) -> None:
    tag(page, NEWS)
    labels = page.eval_on_selector_all("#rendered mark.ent", "ms => ms.map(m => m.dataset.label)")
    assert {"PER", "LOC", "ORG"} <= set(labels)
    target = ROOT / "docs" / "demo.png" if os.environ.get("TAGGER_WRITE_SCREENSHOT") else tmp_path / "demo.png"
    target.parent.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1100, "height": 760})
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000
