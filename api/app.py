"""The FastAPI app: models loaded once (in the background, so /health answers at once),
one warm-up pass before /ready says yes, micro-batched inference, Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.merging import Overloaded, RequestMerger
from api.metrics import Metrics
from api.schemas import EXAMPLE_TEXT, RESPONSE, ErrorOut, ModelInfo, TagRequest, TagResponse, state_limits
from api.settings import Settings
from tagger.device import set_threads, usable_cores
from tagger.errors import TaggerError
from tagger.heap import settle_after_loading
from tagger.io.validate import utf8_problem
from tagger.modelfiles import dev_estimate
from tagger.pipeline import PreparedDocument, Tagger, prepare

log = logging.getLogger("tagger.api")
ROUTES = ("/tag", "/health", "/ready", "/models", "/metrics", "/docs", "/openapi.json", "/")
INLINE_CHARS = 2_000  # requests up to this size are tokenized on the event loop (well under a millisecond)
WATCH_AFTER_S = 0.05  # a request still waiting after this starts watching for its client leaving
CLIENT_GONE = 499  # the status nginx logs for a client that closed the connection first


class SafeJSONResponse(JSONResponse):
    """JSON through orjson for errors and small bodies; content orjson refuses falls
    back to the standard library with every non-ASCII character escaped, so no body
    can crash the encoder. ``POST /tag`` bodies come from ``RESPONSE`` instead."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def error(status: int, detail: str, retry_after: int | None = None) -> SafeJSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return SafeJSONResponse({"detail": detail}, status_code=status, headers=headers)


def content_type_problem(header: bytes | None) -> str | None:
    """Why a ``POST /tag`` body with this Content-Type header is refused (415), or ``None``
    for JSON. A missing or empty header is refused too: FastAPI parses only a body
    declared JSON, and would otherwise answer that the unparsed body is not an object."""
    media = (header or b"").decode("latin-1").partition(";")[0].strip().lower()
    if not media:
        return "content type is missing; send application/json"
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        return f"content type {media!r} is not supported; send application/json"
    return None


@dataclass
class ServiceState:
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    tagger: Tagger | None = None
    merger: RequestMerger | None = None
    ready: bool = False
    load_error: str | None = None
    started: float = field(default_factory=time.monotonic)
    ready_after_s: float | None = None
    tag_in_flight: int = 0  # POST /tag requests admitted and not yet answered (event loop only)

    def public_load_error(self) -> str:
        """Why the models are not ready, with model directories named but not their
        place on the server (the log has the full paths)."""
        if self.load_error is None:
            return "models are loading"
        message = self.load_error
        for path in self.settings.models:
            for form in {str(path), str(path.absolute()), str(path.resolve())}:
                message = message.replace(form, path.name)
        return f"models failed to load: {message}"

    def load(self) -> None:
        """Load models, warm up, start the inference thread (runs in a background thread)."""
        s = self.settings
        try:
            threads = s.threads
            if not threads and s.parallel_models and len(s.models) > 1:
                # The models' threads share the cores; intra-op threads on top only contend.
                threads = max(1, usable_cores() // len(s.models))
            set_threads(threads)
            tagger = Tagger.load(
                s.models,
                device=s.device,
                batch_tokens=s.max_batch_tokens,
                parallel_models=s.parallel_models,
                char_cache=s.char_cache_words,
                backend=s.backend,
            )
            if s.warmup:
                tagger.tag([EXAMPLE_TEXT])
            # The vocabularies are a few hundred thousand long-lived objects; left in the
            # collector's generations, every full collection walks them all (tens of ms,
            # a latency spike under load). Frozen, collections see only request garbage.
            settle_after_loading()
        except Exception as exc:  # any failure must show on /ready rather than end the loader silently
            self.load_error = str(exc) if isinstance(exc, (TaggerError, OSError)) else f"{type(exc).__name__}: {exc}"
            log.error("cannot load models: %s", self.load_error)
            return
        self.tagger = tagger
        self.metrics.watch_char_caches(tagger.labeler.char_cache_stats)
        self.merger = RequestMerger(
            tagger.tag_prepared,
            max_merged_tokens=s.max_merged_tokens,
            max_wait_s=s.max_wait_ms / 1000,
            gap_s=s.merge_gap_ms / 1000,
            max_queue=s.max_queue,
            merging=s.merge_requests,
            on_pass=self.metrics.observe_pass,
        )
        self.ready_after_s = time.monotonic() - self.started
        self.ready = True
        backends = {name: tagger.labeler.backend(name) for name in tagger.models}
        log.info("ready after %.2f s: %s on %s", self.ready_after_s, backends, tagger.device)


class LimitsAndMetrics:
    """Pure ASGI middleware: the cheap checks before any expensive work, and counting.

    For ``POST /tag`` it answers at once, before reading the body, when the models are
    not ready or ``max_queue`` requests are already in the service (503 with
    Retry-After); refuses a content type that is not JSON (415), a body over the limit
    (413) or one that is not UTF-8 (400); and notices a client that leaves while its
    body is read (counted apart, as status 499)."""

    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in ROUTES else "other"
        started = time.perf_counter()
        status = 500
        limit = self.state.settings.max_body_bytes

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        admitted = False
        try:
            headers = dict(scope.get("headers", []))
            if route == "/tag" and scope.get("method") == "POST":
                state = self.state
                if not state.ready:
                    await error(503, state.public_load_error(), retry_after=1)(scope, receive, send_wrapper)
                    return
                if state.tag_in_flight >= state.settings.max_queue:
                    busy = f"overloaded: {state.tag_in_flight} requests in the service; retry later"
                    await error(503, busy, retry_after=1)(scope, receive, send_wrapper)
                    state.metrics.refusals.observe(time.perf_counter() - started)
                    return
                refused = content_type_problem(headers.get(b"content-type"))
                if refused is not None:
                    await error(415, refused)(scope, receive, send_wrapper)
                    return
                state.tag_in_flight += 1
                admitted = True
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await error(413, f"request body is {int(declared)} bytes; limit max_body_bytes={limit}")(
                    scope, receive, send_wrapper
                )
                return
            # Read the body here, up to the limit (Content-Length may be absent or wrong),
            # then replay it to the app.
            body = b""
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    status = CLIENT_GONE
                    self.state.metrics.disconnects.labels(route).inc()
                    return
                if message["type"] != "http.request":
                    await self.app(scope, receive, send_wrapper)
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > limit:
                    await error(413, f"request body exceeds max_body_bytes={limit}")(scope, receive, send_wrapper)
                    return
            problem = utf8_problem(body) if body else None
            if problem is not None:  # the words tagger tag uses for a file that is not UTF-8
                await error(400, f"request body is not UTF-8: {problem}")(scope, receive, send_wrapper)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send_wrapper)
        finally:
            if admitted:
                self.state.tag_in_flight -= 1
            metrics = self.state.metrics
            metrics.requests.labels(route, str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)


def create_app(settings: Settings | None = None) -> FastAPI:
    state = ServiceState(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = threading.Thread(target=state.load, name="model-loader", daemon=True)
        loader.start()
        yield
        loader.join(timeout=60)
        if state.merger is not None:
            state.merger.close()

    app = FastAPI(
        title="tagger",
        version="1",
        description="Named-entity and part-of-speech tagging with Bi-LSTM-CRF models.",
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.service = state
    app.add_middleware(LimitsAndMetrics, state=state)
    static_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = copy.deepcopy(static_openapi())
        loaded = list(state.tagger.models) if state.tagger is not None else []
        state_limits(schema, loaded, state.settings.max_texts, state.settings.max_chars)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default handler echoes the input back; ours never does.
        return SafeJSONResponse({"detail": [_error_detail(e) for e in exc.errors()]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return SafeJSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    responses: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorOut, "description": "the body is not UTF-8 (the message names the byte and column)"},
        413: {"model": ErrorOut, "description": "body too large"},
        415: {"model": ErrorOut, "description": "no content type, or one other than application/json"},
        422: {"model": ErrorOut, "description": "invalid request or a limit exceeded"},
        503: {"model": ErrorOut, "description": "not ready or overloaded (see Retry-After)"},
    }

    @app.post("/tag", response_model=TagResponse, responses=responses)
    async def tag(body: TagRequest, request: Request) -> Response:
        s = state.settings
        if not state.ready or state.tagger is None or state.merger is None:
            return error(503, state.public_load_error(), retry_after=1)
        tagger, merger = state.tagger, state.merger
        documents = body.documents()
        if len(documents) > s.max_texts:
            return error(422, f"{len(documents)} documents; limit max_texts={s.max_texts}")
        for i, doc in enumerate(documents):
            # Tokens are offsets into their text joined by single spaces: that text's length.
            size = len(doc) if isinstance(doc, str) else sum(len(t) for t in doc) + max(len(doc) - 1, 0)
            if size > s.max_chars:
                return error(422, f"document {i} has {size} characters; limit max_chars={s.max_chars}")
        models: list[str] | None = None
        if body.models is not None:
            try:
                # One canonical order, so requests naming the same models share batches.
                models = [m.name for m in tagger.labeler.select(body.models)]
            except TaggerError as exc:
                return error(422, str(exc))
        # Tokenizing and serializing are CPU work: beyond a small request they run off
        # the event loop, so /health and other clients are answered meanwhile (a thread
        # hop costs about as much as tokenizing one sentence). A cheap lower bound on the
        # tokens (whitespace-separated words) is checked first.
        chars = sum(len(d) if isinstance(d, str) else len(d) * 8 for d in documents)
        try:
            if chars <= INLINE_CHARS:
                prepared = _prepare_all(documents, s.max_tokens)
            else:
                prepared = await asyncio.to_thread(_prepare_all, documents, s.max_tokens)
        except TokenLimit as exc:
            return error(422, str(exc))
        tokens = sum(d.num_tokens for d in prepared)
        if tokens > s.max_tokens:
            return error(422, f"{tokens} tokens after tokenization; limit max_tokens={s.max_tokens}")
        state.metrics.queue_depth.set(merger.depth)
        job = asyncio.ensure_future(merger.tag(prepared, models))
        # Most answers come within a pass or two; only then is a watcher for the
        # client's departure worth its cost.
        await asyncio.wait((job,), timeout=WATCH_AFTER_S)
        if not job.done():
            gone = asyncio.ensure_future(_client_gone(request))
            await asyncio.wait((job, gone), return_when=asyncio.FIRST_COMPLETED)
            if not job.done():  # the client left: drop its queued work (the merger skips it)
                job.cancel()
                state.metrics.disconnects.labels("/tag").inc()
                return Response(status_code=CLIENT_GONE)
            gone.cancel()
        try:
            tagged = job.result()
        except Overloaded as exc:
            return error(503, f"overloaded: {exc}; retry later", retry_after=1)
        response = TagResponse(models=models or list(tagger.models), documents=tagged)
        if tokens <= INLINE_CHARS // 5:
            body_bytes = RESPONSE.dump_json(response)
        else:
            body_bytes = await asyncio.to_thread(RESPONSE.dump_json, response)
        return Response(body_bytes, media_type="application/json")

    if state.settings.demo:
        pages = demo_files()

        @app.get("/", include_in_schema=False)
        async def demo_page() -> Response:
            content, media = pages["index.html"]
            return Response(content, media_type=media, headers=DEMO_HEADERS)

        @app.get("/demo/{name}", include_in_schema=False)
        async def demo_asset(name: str) -> Response:
            if name not in pages or name == "index.html":
                return error(404, f"no demo file {name!r}")
            content, media = pages[name]
            return Response(content, media_type=media, headers=DEMO_HEADERS)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready", responses={503: {"model": ErrorOut}})
    async def ready() -> Response:
        if state.ready:
            return SafeJSONResponse({"status": "ready", "ready_after_s": state.ready_after_s})
        return error(503, state.public_load_error(), retry_after=1)

    @app.get("/models", response_model=list[ModelInfo], responses={503: {"model": ErrorOut}})
    async def models() -> Response:
        if state.tagger is None:
            return error(503, state.public_load_error(), retry_after=1)
        infos = []
        for name, loaded in state.tagger.models.items():
            dev = _mapping(loaded.metrics.get("dev"))
            micro = _mapping(dev.get("micro"))
            estimate, trained_on_dev = dev_estimate(loaded.metrics)
            infos.append(
                ModelInfo(
                    name=name,
                    task=loaded.task,
                    labels=loaded.vocab.labels,
                    dev_score=estimate,
                    trained_on_dev=trained_on_dev,
                    dev={
                        "f1": _number(micro.get("f1")),
                        "precision": _number(micro.get("precision")),
                        "recall": _number(micro.get("recall")),
                        "accuracy": _number(dev.get("accuracy")),
                    },
                    device=str(state.tagger.device),
                    backend=state.tagger.labeler.backend(name),
                    document_consistency=state.tagger.labeler.consistency_weight(name),
                ).model_dump()
            )
        return SafeJSONResponse(infos)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}, "description": "Prometheus text format"}},
    )
    async def metrics() -> Response:
        if state.merger is not None:
            state.metrics.queue_depth.set(state.merger.depth)
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


DEMO_DIR = Path(__file__).parent / "demo"
# The page loads nothing from outside the service, and nothing can frame it.
DEMO_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
}
DEMO_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}


def demo_files() -> dict[str, tuple[bytes, str]]:
    """The demo page's files, read once: name -> (content, media type)."""
    files = sorted(p for p in DEMO_DIR.iterdir() if p.suffix in DEMO_TYPES)
    return {p.name: (p.read_bytes(), DEMO_TYPES[p.suffix]) for p in files}


def _error_detail(e: dict[str, Any]) -> dict[str, Any]:
    """One validation error without its input. For a body that is not JSON, FastAPI's
    ``loc`` holds the character offset where a field name would be, and its reason is in
    ``ctx``: both go into the message (``JSON decode error: Expecting value at character
    9``), the reason being one of the parser's fixed phrases, never the body."""
    loc, msg, kind = [str(p) for p in e.get("loc", ())], str(e.get("msg", "")), str(e.get("type", ""))
    ctx = e.get("ctx")
    if kind == "json_invalid" and len(loc) == 2 and loc[0] == "body" and loc[1].isdigit():
        reason = ctx.get("error") if isinstance(ctx, dict) else None
        msg = f"{msg}: {reason} at character {loc[1]}" if isinstance(reason, str) else f"{msg} at character {loc[1]}"
        loc = ["body"]
    return {"loc": loc, "msg": msg, "type": kind}


def _mapping(value: object) -> dict[str, Any]:
    """A part of a model's metrics.json, which a user may have edited into any shape."""
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class TokenLimit(Exception):
    """A request has more tokens than ``max_tokens`` however it is tokenized."""


def _prepare_all(documents: list[str] | list[list[str]], max_tokens: int) -> list[PreparedDocument]:
    # Every whitespace-separated word is at least one token: a bound that costs a split.
    words = sum(len(d.split()) if isinstance(d, str) else len(d) for d in documents)
    if words > max_tokens:
        raise TokenLimit(f"at least {words} tokens; limit max_tokens={max_tokens}")
    return [prepare(d) for d in documents]


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the body has been read: only that is left)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
