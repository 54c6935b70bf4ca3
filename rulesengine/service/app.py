"""The HTTP application: one handler an endpoint, on Starlette.

Starlette rather than FastAPI: the request and response bodies are already defined by the
project's JSON Schemas (``claim.schema.json``, ``result.schema.json``), which serve as the
OpenAPI document's components as they are; FastAPI's pydantic models would be a second
copy of them to keep in step. Checking is CPU work of well under a millisecond a claim, so
one claim is checked on the event loop itself (no thread hand-off); a batch gives the loop
back between chunks, so short requests are answered while a long one runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import time
import uuid
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from rulesengine.authoring.explain import explain_claim, render
from rulesengine.claims import ClaimError
from rulesengine.engine.boundary import checked_or_error
from rulesengine.engine.history import open_history
from rulesengine.reports.json import error_dict

from . import decisions, metrics
from .checking import (
    CHUNK,
    FORMATS,
    JSONL_TYPE,
    Batch,
    LimitHit,
    LineSplitter,
    check_one,
    is_single,
    pieces,
    read,
)
from .config import ServiceConfig
from .keys import presented_key
from .openapi import openapi_document
from .problems import MEDIA_TYPE, limit, problem_response
from .served import ReloadFailed, ServedPacks

log = logging.getLogger("rulesengine.service")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def create_app(config: ServiceConfig, packs: ServedPacks | None = None) -> Starlette:
    """The service for ``config``: packs compiled before the first request is taken
    (``packs``, when the caller has compiled them already)."""
    state = _State(config, packs)

    @asynccontextmanager
    async def lifespan(app):
        state.start()
        try:
            yield
        finally:
            state.stop()

    routes = [
        Route("/v1/check", _handler(state, _check, "check"), methods=["POST"]),
        Route("/v1/explain", _handler(state, _explain, "check"), methods=["POST"]),
        Route("/v1/packs", _handler(state, _packs, "check"), methods=["GET"]),
        Route("/v1/admin/reload", _handler(state, _reload, "admin"), methods=["POST"]),
        Route("/metrics", _handler(state, _metrics, "check"), methods=["GET"]),
        Route("/healthz", _handler(state, _healthz, None), methods=["GET"]),
        Route("/readyz", _handler(state, _readyz, None), methods=["GET"]),
        Route("/openapi.json", _handler(state, _openapi, None), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _not_allowed})
    return app


class _State:
    """What the handlers share: the packs in service, the history, the keys, the log."""

    def __init__(self, config: ServiceConfig, packs: ServedPacks | None):
        self.config = config
        self.packs = packs or ServedPacks(config.pack_dirs, config.cache)
        self.history = open_history(config.history) if config.history else None
        self.decision_log = None
        self._own_writer = None

    def start(self) -> None:
        address = self.config.decision_socket
        if address is None and self.config.decision_log:  # no serve process: our own writer
            self._own_writer = decisions.DecisionWriter(self.config.decision_log)
            address = self._own_writer.address
        if address:
            self.decision_log = decisions.DecisionSender(address)
        if self.config.reload_on_hup:
            try:
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hup)
            except (RuntimeError, ValueError):  # not the main thread: no signals here
                pass

    def stop(self) -> None:
        if self.decision_log is not None:
            self.decision_log.close()
        if self._own_writer is not None:
            self._own_writer.close()
        if self.history is not None:
            self.history.close()

    def _hup(self) -> None:
        asyncio.get_running_loop().run_in_executor(None, self.reload_logged, "SIGHUP")

    def reload_logged(self, why: str):
        try:
            served = self.packs.reload()
        except ReloadFailed as failed:
            metrics.RELOADS.labels("failed").inc()
            log.error("reload (%s) failed; the packs serving were kept: %s", why,
                      " | ".join(failed.errors))
            raise
        metrics.RELOADS.labels("ok").inc()
        log.info("reload (%s): generation %d: %s", why, served.generation,
                 ", ".join(f"{p['id']} {p['version']} {p['hash']}" for p in served.describe()))
        return served


def _handler(state: _State, endpoint, scope: str | None):
    """``endpoint`` with what every request gets: its request id, the key check, the
    latency and request metrics, one log line (no claim data), problem+json on a crash."""
    name = endpoint.__name__.lstrip("_")

    async def handle(request: Request) -> Response:
        started = time.monotonic()
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.state.request_id, request.state.started, request.state.claims = request_id, started, 0
        try:
            refused = _refused(state, request, scope, request_id)
            response = refused or await endpoint(state, request)
        except Exception:
            log.exception("request %s: internal error", request_id)
            response = problem_response("internal", 500, "the request could not be answered; "
                                        "the server's log has the details", request_id)
        response.headers["x-request-id"] = request_id
        seconds = time.monotonic() - started
        metrics.REQUESTS.labels(name, request.method, str(response.status_code)).inc()
        metrics.LATENCY.labels(name).observe(seconds)
        log.info("request %s %s %s %d claims=%d %.1f ms", request_id, request.method, name,
                 response.status_code, request.state.claims, seconds * 1000)
        return response

    handle.__name__ = name
    return handle


def _refused(state: _State, request: Request, scope: str | None, request_id: str):
    if scope is None or not state.config.keys_required:
        return None
    key = state.config.keys.find(presented_key(request.headers))
    if key is None:
        return problem_response("unauthorized", 401, "send a valid API key as 'Authorization: "
                                "Bearer KEY' (or X-API-Key)", request_id,
                                headers={"www-authenticate": 'Bearer realm="rulesengine"'})
    if scope not in key.scopes and "admin" not in key.scopes:
        return problem_response("forbidden", 403, f"key {key.name} lacks the '{scope}' scope",
                                request_id)
    return None


async def _body_parts(state: _State, request: Request):
    """The body as it arrives, refused past the size limit as soon as it is known to be over."""
    cap = state.config.limits.body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise LimitHit("body-too-large", 413, f"the body is {int(declared)} bytes; this server "
                       f"takes at most {cap}", "max_body_bytes", cap)
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > cap:
            raise LimitHit("body-too-large", 413, f"the body is over {cap} bytes, the most this "
                           f"server takes", "max_body_bytes", cap)
        yield part


async def _body(state: _State, request: Request) -> bytes:
    return b"".join([part async for part in _body_parts(state, request)])


def _format(request: Request):
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    return FORMATS.get(media), media


def _unsupported(media: str, request_id: str) -> Response:
    return problem_response("unsupported-media-type", 415, f"Content-Type {media!r} is not "
                            f"taken; send one of: {', '.join(sorted(FORMATS))}", request_id)


def _limit_response(hit: LimitHit, request_id: str) -> Response:
    body = {**hit.body, "request_id": request_id}
    return Response(json.dumps(body), body["status"], media_type=MEDIA_TYPE)


async def _check(state: _State, request: Request) -> Response:
    request_id = request.state.request_id
    fmt, media = _format(request)
    if fmt is None:
        return _unsupported(media, request_id)
    served = state.packs.current  # this request's packs, whatever a reload does meanwhile
    source = f"request {request_id}"
    accept = request.headers.get("accept", "")
    jsonl = JSONL_TYPE in accept or (fmt == "jsonl" and "application/json" not in accept)
    batch = Batch(served, state.history, state.config.limits, jsonl, source, request_id,
                  request.state.started, state.decision_log)
    if fmt == "jsonl":
        arriving = _arriving_lines(state, request, source)
    else:
        try:
            body = await _body(state, request)
        except LimitHit as hit:
            return _limit_response(hit, request_id)
        if is_single(body, fmt):
            items = list(read(body, fmt, source))
            if len(items) == 1:
                request.state.claims = 1
                outcome = check_one(items[0], served, state.history, state.config.limits, source)
                over = not isinstance(items[0], ClaimError) and \
                    len(items[0].lines) > state.config.limits.lines
                extra = limit("max_lines_per_claim", state.config.limits.lines) if over else {}
                return _single_answer(state, outcome, request_id, extra)
        arriving = _as_async(pieces(read(body, fmt, source)))
    try:  # the first piece before the answer begins: a limit hit by then is its status
        first = batch.answer(await anext(arriving, []))
    except LimitHit as hit:
        return _limit_response(hit, request_id)

    async def stream():
        yield first
        try:
            async for piece in arriving:
                yield batch.answer(piece)
                await asyncio.sleep(0)  # let other requests in between pieces
        except LimitHit as hit:
            yield batch.cut(hit)
        else:
            yield batch.close()
        request.state.claims = batch.count

    request.state.claims = batch.count
    return _Streamed(stream(), media_type=JSONL_TYPE if jsonl else "application/json")


class _Streamed(StreamingResponse):
    """A streamed answer written while the request's body is still being read. Starlette's
    own, on servers of ASGI spec below 2.4 (uvicorn's), watches for the client leaving by
    reading the request's messages itself, which would swallow the rest of a body read as
    it arrives; reading the body already says when the client has gone."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.stream_response(send)
        except OSError:
            raise ClientDisconnect() from None


async def _as_async(iterator):
    for item in iterator:
        yield item


async def _arriving_lines(state: _State, request: Request, source: str):
    """The claims of a JSON Lines body, a piece as each part of it arrives."""
    splitter = LineSplitter(source)
    async for part in _body_parts(state, request):
        items = splitter.feed(part)
        for at in range(0, len(items), CHUNK):
            yield items[at:at + CHUNK]
    items = splitter.feed(b"", final=True)
    if items:
        yield items


def _single_answer(state: _State, outcome, request_id: str, extra: dict) -> Response:
    if state.decision_log is not None:
        state.decision_log.send([decisions.record(request_id, outcome)])
    if isinstance(outcome, ClaimError):
        metrics.count_error(outcome)
        kind, status = ("unreadable-claim", 422) if outcome.kind in ("unreadable", "no-pack") \
            else ("not-checked", 500 if outcome.kind == "internal" else 503)
        return problem_response(kind, status, str(outcome), request_id,
                                errors=[error_dict(outcome)], **extra)
    metrics.count_result(outcome)
    return JSONResponse(outcome.to_dict())


async def _explain(state: _State, request: Request) -> Response:
    """Why each rule fired or passed on each claim of the body: JSON (as ``explain
    --format json``), or the CLI's text when the request accepts text/plain."""
    request_id = request.state.request_id
    fmt, media = _format(request)
    if fmt is None:
        return _unsupported(media, request_id)
    try:
        body = await _body(state, request)
    except LimitHit as hit:
        return _limit_response(hit, request_id)
    served, source = state.packs.current, f"request {request_id}"
    rule_id = request.query_params.get("rule")
    explained, errors = [], []
    for position, item in enumerate(read(body, fmt, source), 1):
        if position > state.config.limits.claims:
            return _limit_response(LimitHit("too-many-claims", 422, "too many claims to explain "
                                            "in one request", "max_claims",
                                            state.config.limits.claims), request_id)
        pack = None if isinstance(item, ClaimError) else served.packs.for_claim(item)
        if pack is None:
            outcome = item if isinstance(item, ClaimError) else served.packs.check(item, None, source, position)
            errors.append(outcome)
            continue
        outcome = checked_or_error(lambda c, p=pack: explain_claim(p, c, rule_id, state.history),
                                   item, source, position)
        if isinstance(outcome, ClaimError):
            errors.append(outcome)
        else:
            explained.append((pack, outcome))
    request.state.claims = len(explained) + len(errors)
    if not explained and errors:
        return problem_response("unreadable-claim", 422, str(errors[0]), request_id,
                                errors=[error_dict(e) for e in errors])
    if "text/plain" in request.headers.get("accept", ""):
        text = "".join(render([x], pack.info) for pack, x in explained)
        return PlainTextResponse(text)
    return JSONResponse({"explanations": [x.to_dict() for _, x in explained],
                         "errors": [error_dict(e) for e in errors]})


async def _packs(state: _State, request: Request) -> Response:
    served = state.packs.current
    return JSONResponse({"generation": served.generation,
                         "packs": [_pack_dict(p) for p in served.packs.packs]})


def _pack_dict(pack) -> dict:
    """A pack as ``GET /v1/packs`` lists it: a rule with several dated versions is listed
    once a version, each with its window and citation."""
    rules = [{"id": r.id, "title": r.title,
              "category": r.category.name if r.category else None,
              "citation": r.citation.value if r.citation else None,
              "effective": {"from": r.effective_from.text if r.effective_from else None,
                            "through": r.effective_through.text if r.effective_through else None}}
             for r in pack.rules]
    return {**pack.info.to_dict(), "payer_ids": [str(p) for p in pack.meta.get("payer_ids") or []],
            "rules": rules}


async def _reload(state: _State, request: Request) -> Response:
    request_id = request.state.request_id
    try:
        served = await run_in_threadpool(state.reload_logged, f"request {request_id}")
    except ReloadFailed as failed:
        return problem_response("reload-failed", 422, "a pack did not compile: the packs "
                                "serving were kept", request_id, errors=failed.errors,
                                packs=state.packs.current.describe())
    supervisor = os.environ.get("RULESENGINE_SUPERVISOR_PID")
    if supervisor and supervisor.isdigit():  # the other workers: the supervisor tells each
        os.kill(int(supervisor), signal.SIGHUP)
    return JSONResponse({"generation": served.generation, "packs": served.describe()})


async def _metrics(state: _State, request: Request) -> Response:
    text, content_type = metrics.exposition()
    return Response(text, media_type=content_type)


async def _healthz(state: _State, request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(state: _State, request: Request) -> Response:
    served = state.packs.current
    body = {"status": "ready", "generation": served.generation, "packs": served.describe()}
    if state.packs.last_errors:
        body["last_reload_errors"] = state.packs.last_errors
    return JSONResponse(body)


async def _openapi(state: _State, request: Request) -> Response:
    return JSONResponse(openapi_document())


async def _not_found(request: Request, exc) -> Response:
    return problem_response("not-found", 404, f"no endpoint {request.url.path}; the endpoints "
                            f"are listed at /openapi.json")


async def _not_allowed(request: Request, exc) -> Response:
    return problem_response("method-not-allowed", 405, f"{request.method} is not taken at "
                            f"{request.url.path}")
