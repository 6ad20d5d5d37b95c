from __future__ import annotations

import importlib.util
import json
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tagger.device import cpu_has_vnni
from tests.api.conftest import serving
from tests.conftest import MODELS

NER, POS = "ner-en-conll03", "pos-en-ewt"


def entities(response: dict, doc: int = 0, model: str = NER) -> list[tuple[str, str, int, int]]:
    return [
        (e["text"], e["label"], e["start"], e["end"])
        for e in response["documents"][doc]["entities"]
        if e["model"] == model
    ]


def test_tag_text_returns_entities_and_pos(client: TestClient) -> None:
    text = "Angela Merkel visited Paris on Monday."
    r = client.post("/tag", json={"text": text})
    assert r.status_code == 200
    body = r.json()
    assert body["models"] == [NER, POS]
    assert entities(body) == [("Angela Merkel", "PER", 0, 13), ("Paris", "LOC", 22, 27)]
    tokens = body["documents"][0]["sentences"][0]
    assert [t["text"] for t in tokens] == ["Angela", "Merkel", "visited", "Paris", "on", "Monday", "."]
    assert [t["labels"][POS]["label"] for t in tokens] == ["PROPN", "PROPN", "VERB", "PROPN", "ADP", "PROPN", "PUNCT"]
    assert [t["labels"][NER]["label"] for t in tokens] == ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O"]
    for t in tokens:
        assert text[t["start"] : t["end"]] == t["text"]
        assert 0.0 <= t["labels"][NER]["score"] <= 1.0
    assert all(0.5 < e["score"] <= 1.0 for e in body["documents"][0]["entities"])


def test_texts_tokens_and_model_selection(client: TestClient) -> None:
    r = client.post("/tag", json={"texts": ["John lives in Berlin.", ""], "models": [NER]})
    body = r.json()
    assert r.status_code == 200 and body["models"] == [NER]
    assert entities(body) == [("John", "PER", 0, 4), ("Berlin", "LOC", 14, 20)]
    assert body["documents"][1] == {"id": None, "sentences": [], "entities": []}
    assert set(body["documents"][0]["sentences"][0][0]["labels"]) == {NER}
    r = client.post("/tag", json={"tokens": [["The", "European", "Commission", "said", "so"]], "models": [NER]})
    assert entities(r.json()) == [("European Commission", "ORG", 4, 23)]


def test_validation_errors(client: TestClient) -> None:
    r = client.post("/tag", json={})
    assert r.status_code == 422
    assert "give exactly one of text, texts, tokens" in r.json()["detail"][0]["msg"]
    r = client.post("/tag", json={"text": "a", "texts": ["b"]})
    assert r.status_code == 422
    r = client.post("/tag", json={"text": 5})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]
    r = client.post("/tag", json={"tokens": [["a", ""]]})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "Value error, field 'tokens[0][1]': empty token"
    r = client.post("/tag", json={"text": "a", "extra": 1})
    assert r.status_code == 422


def test_unknown_model_lists_loaded_ones(client: TestClient) -> None:
    r = client.post("/tag", json={"text": "a", "models": ["nope"]})
    assert r.status_code == 422
    assert r.json()["detail"] == f"unknown model(s) ['nope']; loaded: ['{NER}', '{POS}']"


def test_limits_name_the_limit(client: TestClient) -> None:
    r = client.post("/tag", json={"texts": ["a"] * 5})
    assert r.status_code == 422 and r.json()["detail"] == "5 documents; limit max_texts=4"
    r = client.post("/tag", json={"text": "a" * 501})
    assert r.status_code == 422 and r.json()["detail"] == "document 0 has 501 characters; limit max_chars=500"
    # Tokens count as the text they are joined into ("aaa bbb"), no trailing space.
    r = client.post("/tag", json={"tokens": [["a" * 249, "b" * 250]]})
    assert r.status_code == 200
    r = client.post("/tag", json={"tokens": [["a" * 250, "b" * 250]]})
    assert r.status_code == 422 and r.json()["detail"] == "document 0 has 501 characters; limit max_chars=500"
    r = client.post("/tag", json={"texts": ["a " * 120, "b " * 120]})
    assert r.status_code == 422 and r.json()["detail"] == "at least 240 tokens; limit max_tokens=200"
    r = client.post("/tag", json={"texts": ["a;" * 110, "c"]})  # 2 words would pass; 221 tokens do not
    assert r.status_code == 422 and r.json()["detail"] == "221 tokens after tokenization; limit max_tokens=200"
    r = client.post("/tag", content=b'{"text": "' + b"a" * 30_000 + b'"}', headers={"content-type": "application/json"})
    assert r.status_code == 413 and "max_body_bytes=20000" in r.json()["detail"]


def test_bad_bytes_and_json(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    r = client.post("/tag", content=b'{"text": "\xff\xfe"}', headers=headers)
    assert r.status_code == 400
    assert r.json()["detail"] == "request body is not UTF-8: invalid UTF-8 byte 0xff at column 11"
    r = client.post("/tag", content=b'{"text": ', headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    r = client.post("/tag", content=b"text=hello", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    detail = "content type 'application/x-www-form-urlencoded' is not supported; send application/json"
    assert r.json()["detail"] == detail


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02",
        "\u200b\u200d",
        "👩‍👩‍👧 🇩🇪",
        "e\u0301",
        "東京で会った",
        "\r\n\t ",
        " " * 400,
    ],
)
def test_odd_input_never_500(client: TestClient, text: str) -> None:
    raw = json.dumps({"text": text}).encode("ascii")  # lone surrogates travel as \\ud800 escapes
    r = client.post("/tag", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    for sentence in r.json()["documents"][0]["sentences"]:
        for token in sentence:
            assert text[token["start"] : token["end"]] == token["text"]


@pytest.mark.parametrize(("text", "where"), [("x\ud800y", 1), ("\udfff", 0)])
def test_lone_surrogate_is_refused_as_tagger_tag_refuses_it(client: TestClient, text: str, where: int) -> None:
    raw = json.dumps({"text": text}).encode("ascii")  # lone surrogates travel as \\ud800 escapes
    r = client.post("/tag", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    code = f"{ord(text[where]):04x}"
    assert f"field 'text': lone surrogate \\u{code} at character {where}" in r.json()["detail"][0]["msg"]


def test_validation_error_with_surrogate_does_not_echo_input(client: TestClient) -> None:
    raw = b'{"text": ["\\ud800"], "secret\\udc00": 1}'
    r = client.post("/tag", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "input" not in r.text


def test_health_ready_models_metrics(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "alive"}
    assert client.get("/ready").json()["status"] == "ready"
    models = {m["name"]: m for m in client.get("/models").json()}
    assert models[NER]["task"] == "ner" and "B-PER" in models[NER]["labels"]
    assert models[POS]["task"] == "pos" and "NOUN" in models[POS]["labels"]
    assert models[NER]["dev_score"] > 0.9 and models[NER]["device"] == "cpu"
    # The shipped models were trained on dev (a final fit): their score is the selection
    # run's estimate, not their score on the dev data they learnt.
    metrics = json.loads((MODELS / NER / "metrics.json").read_text())
    assert models[NER]["trained_on_dev"] is True
    assert models[NER]["dev_score"] == pytest.approx(metrics["final_fit"]["selection_dev"])
    assert models[NER]["dev_score"] < metrics["dev"]["main"]
    # auto: an ONNX export where onnxruntime is installed (the dev extras), int8 where the
    # CPU has VNNI; else torch
    expected = "torch"
    if importlib.util.find_spec("onnxruntime"):
        expected = "onnx-int8" if cpu_has_vnni() else "onnx"
    assert models[NER]["backend"] == models[POS]["backend"] == expected
    # what labelling applies: the NER model's config.json weight; nothing for POS labels
    assert (
        models[NER]["document_consistency"]
        == json.loads((MODELS / NER / "config.json").read_text())["model"]["document_consistency"]
    )
    assert models[NER]["document_consistency"] > 0 and models[POS]["document_consistency"] == 0.0
    client.post("/tag", json={"text": "Paris"})
    metrics = client.get("/metrics").text
    assert 'tagger_requests_total{route="/tag",status="200"}' in metrics
    assert "tagger_request_latency_seconds_bucket" in metrics
    assert "tagger_merged_requests_bucket" in metrics
    assert "tagger_queue_depth" in metrics
    assert "tagger_tokens_total" in metrics
    lookups = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("tagger_char_cache_lookups_total")
    }
    assert lookups[f'tagger_char_cache_lookups_total{{model="{NER}",result="miss"}}'] >= 1
    assert f'tagger_char_cache_lookups_total{{model="{POS}",result="hit"}}' in lookups
    assert f'tagger_char_cache_words{{model="{NER}"}}' in metrics


def test_openapi_has_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["TagRequest"]["examples"][0] == {
        "text": "Angela Merkel visited Paris on Monday."
    }


def test_not_ready_until_models_load(tmp_path: object) -> None:
    app = create_app(Settings(models=["/nonexistent/model"]))  # type: ignore[list-item]
    with TestClient(app) as c:
        for _ in range(100):
            if app.state.service.load_error:
                break
            time.sleep(0.02)
        r = c.get("/ready")
        assert r.status_code == 503
        assert r.json()["detail"] == "models failed to load: model: no such model directory"  # no server path
        assert c.get("/health").status_code == 200
        assert "/nonexistent" not in c.get("/models").text
        r = c.post("/tag", json={"text": "a"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"


def test_full_queue_answers_503_at_once() -> None:
    import threading
    import time

    with serving(max_queue=1) as client:
        merger = client.app.state.service.merger  # type: ignore[attr-defined]
        gate = threading.Event()
        original = merger._run

        def slow(docs, models):  # type: ignore[no-untyped-def]
            gate.wait(5)
            return original(docs, models)

        merger._run = slow
        results: list[int] = []

        def call() -> None:
            results.append(client.post("/tag", json={"text": "a b"}).status_code)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        r = client.post("/tag", json={"text": "a b"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "overloaded" in r.json()["detail"]
        gate.set()
        for t in threads:
            t.join()
        assert 503 in results and 200 in results


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"text": "'
        for _ in range(30):
            yield b"a" * 1000
        yield b'"}'

    r = client.post("/tag", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "max_body_bytes=20000" in r.json()["detail"]


def test_model_selection_is_canonical(client: TestClient) -> None:
    a = client.post("/tag", json={"text": "Paris", "models": [POS, NER, NER]}).json()
    b = client.post("/tag", json={"text": "Paris"}).json()
    assert a["models"] == [NER, POS]
    assert a["documents"] == b["documents"]


def test_openapi_states_what_the_service_does(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    request = spec["components"]["schemas"]["TagRequest"]
    assert request["oneOf"] == [{"required": ["text"]}, {"required": ["texts"]}, {"required": ["tokens"]}]
    documented = spec["paths"]["/tag"]["post"]["responses"]
    assert {"200", "400", "413", "415", "422", "503"} <= set(documented)


def test_unknown_models_are_named_briefly_never_echoed_in_full() -> None:
    """Regression: 30 unknown names of 25,000 characters each came back whole, a 750 KB 422."""
    name = "<script>alert(1)</script>" * 1000
    with serving() as big:  # the default max_body_bytes: the 750 KB request is read, not refused as too large
        r = big.post("/tag", json={"text": "a", "models": [name] * 30})
    assert r.status_code == 422
    shown = f"'{name[:40]}…'"
    assert r.json()["detail"] == (f"unknown model(s) [{shown}] (30 unknown names in all); loaded: ['{NER}', '{POS}']")
    assert len(r.content) < 300


def test_many_distinct_unknown_models_name_the_first_three(client: TestClient) -> None:
    r = client.post("/tag", json={"text": "a", "models": [NER, "a", "b", "c", "d", "e" * 41]})
    assert r.status_code == 422
    assert (
        r.json()["detail"] == f"unknown model(s) ['a', 'b', 'c'] (5 unknown names in all); loaded: ['{NER}', '{POS}']"
    )
    r = client.post("/tag", json={"text": "a", "models": ["x" * 40, "y" * 41]})
    detail = f"unknown model(s) ['{'x' * 40}', '{'y' * 40}…']; loaded: ['{NER}', '{POS}']"
    assert r.status_code == 422 and r.json()["detail"] == detail


@pytest.mark.parametrize("headers", [{}, {"content-type": ""}, {"content-type": " ; charset=utf-8"}])
def test_missing_content_type_is_415_like_a_wrong_one(client: TestClient, headers: dict[str, str]) -> None:
    """Regression: without a Content-Type the body was taken for JSON, then not parsed:
    422 "Input should be a valid dictionary or object"."""
    r = client.post("/tag", content=b'{"text": "a"}', headers=headers)
    assert "content-type" not in r.request.headers or r.request.headers["content-type"] == headers["content-type"]
    assert r.status_code == 415
    assert r.json()["detail"] == "content type is missing; send application/json"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{'text': 'Paris'}", "Expecting property name enclosed in double quotes at character 1"),
        (b'{"text": ', "Expecting value at character 9"),
        (b'{"text": "a"} x', "Extra data at character 14"),
    ],
)
def test_malformed_json_says_why_and_where(client: TestClient, raw: bytes, message: str) -> None:
    """Regression: the reason was dropped and the offset shown as a field name:
    {"loc": ["body", "1"], "msg": "JSON decode error"}."""
    r = client.post("/tag", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body"], "msg": f"JSON decode error: {message}", "type": "json_invalid"}]


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ([[" ", "\n", "Paris"]], "field 'tokens[0][0]': token holds only whitespace or control characters"),
        ([["Paris"], ["in", "\t\r"]], "field 'tokens[1][1]': token holds only whitespace or control characters"),
        ([["John", "", "Berlin"]], "field 'tokens[0][1]': empty token"),
        ([["New\nYork"]], "field 'tokens[0][0]': control character or line break \\u000a at character 3"),
        ([["Paris\u200b"]], "field 'tokens[0][0]': whitespace \\u200b at the end of the token"),
        ([["ok", "x\x00"]], "field 'tokens[0][1]': control character or line break \\u0000 at character 1"),
        ([["\u00a0Paris"]], "field 'tokens[0][0]': whitespace \\u00a0 at the start of the token"),
        ([["a\ud800"]], "field 'tokens[0][0]': lone surrogate \\ud800 at character 1"),
    ],
)
def test_tokens_the_tokenizer_never_makes_are_refused(client: TestClient, tokens: list, message: str) -> None:
    """Regression: only "" was refused; [" ", "\\n", "Paris"] was tagged, an entity "  \\n Paris"."""
    raw = json.dumps({"tokens": tokens}).encode("ascii")
    r = client.post("/tag", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body"], "msg": f"Value error, {message}", "type": "value_error"}]


def test_visible_tokens_are_still_tagged(client: TestClient) -> None:
    tokens = ["Angela", "Merkel", "visited", "Paris", "e\u0301", "👍🏽", "東京", "10\u00a0000", "New York"]
    r = client.post("/tag", json={"tokens": [tokens]})
    assert r.status_code == 200
    assert entities(r.json())[:2] == [("Angela Merkel", "PER", 0, 13), ("Paris", "LOC", 22, 27)]
    assert [t["text"] for t in r.json()["documents"][0]["sentences"][0]][-2:] == ["10\u00a0000", "New York"]
