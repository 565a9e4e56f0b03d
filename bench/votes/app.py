"""The vote server: a FastAPI app over one study folder. It only records; ratings are computed later.

Routes (every vote route needs the annotator's token, ``Authorization: Bearer <token>``; media
take it as ``?token=`` because a <video> element cannot send headers):

- ``GET  /a/{token}``          the voting page for an invite link
- ``GET  /api/state``          the annotator's next item, prompt and progress (resume)
- ``POST /api/votes``          one vote ``{vote_id, item_id, choice, watched, watch_ms}``
- ``GET  /media/{media_id}``   a video of the study's registry, by blind id only
- ``GET  /healthz``            liveness

Limits: a request body over ``MAX_BODY_BYTES`` is refused with 413 before it is parsed and
before any token is looked up (a vote is ~200 bytes); a body that is not a valid vote, NaN or
infinite numbers included, gets 422 naming the field, never a 500.

Tokens are per study: a valid token of the study opens every media id of the study (any item
may be shown to any annotator: fixed queues hold every item, adaptive pairing picks from all of
them; media ids are blind), never another study's.

(No ``from __future__ import annotations`` here: FastAPI must see the real dependency objects
in the route signatures, which are closures over the app's state.)
"""


import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from bench.votes.adaptive_queue import next_adaptive_item
from bench.votes.store import Annotator, VoteConflict, VoteStore
from bench.votes.study import DB_FILE, ID_PATTERN, Study, annotator_queue, load_study

# A vote is ~200 bytes; 16 KiB leaves room for any client while a flood of large bodies
# costs the server nothing (they are refused before being read or parsed).
MAX_BODY_BYTES = 16 * 1024
STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {"vote.js": "text/javascript", "vote.css": "text/css"}
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # invite links carry the token
    "X-Frame-Options": "DENY",
}


class VoteIn(BaseModel):
    """A vote as posted by the page. Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    vote_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{8,64}$")]
    item_id: Annotated[str, Field(pattern=ID_PATTERN.pattern)]
    choice: Literal["left", "right", "tie", "both_bad", "skip"]
    watched: bool = False
    watch_ms: Annotated[int, Field(ge=0, le=24 * 3600 * 1000)] | None = None


class VoteServer:
    """State shared by the routes: the study, its vote store and the annotators' queues."""

    def __init__(self, study: Study, store: VoteStore) -> None:
        self.study = study
        self.store = store
        self.items = study.item_by_id
        self._queues: dict[str, list[str]] = {}

    def queue(self, annotator: Annotator) -> list[str]:
        if annotator.annotator_id not in self._queues:
            self._queues[annotator.annotator_id] = annotator_queue(self.study, annotator.annotator_id)
        return self._queues[annotator.annotator_id]

    def offers(self, annotator: Annotator, item_id: str) -> bool:
        """Whether the annotator may vote on the item (adaptive: any item, the next one depends on votes)."""
        return item_id in self.items and (self.study.pairing == "adaptive" or item_id in self.queue(annotator))

    def state(self, annotator: Annotator, token: str) -> dict:
        if self.study.pairing == "adaptive":
            upcoming = next_adaptive_item(self.study, self.store.votes(), annotator.annotator_id)
            next_id, done, total = upcoming.item_id, upcoming.done, upcoming.total
        else:
            queue = self.queue(annotator)
            answered = self.store.answered_items(annotator.annotator_id)
            done, total = sum(1 for item_id in queue if item_id in answered), len(queue)
            next_id = next((item_id for item_id in queue if item_id not in answered), None)
        state = {"annotator": annotator.name, "study": self.study.name, "done": done, "total": total,
                 "item": None}
        if next_id is not None:
            item = self.items[next_id]
            state["item"] = {
                "item_id": item.item_id,
                "prompt": item.prompt,  # the page inserts it as text, never as HTML
                "left": f"/media/{item.left_media}?token={token}",
                "right": f"/media/{item.right_media}?token={token}",
            }
        return state


class _BodyTooLarge(HTTPException):
    """Raised while a body streams in past the limit (an HTTPException, so the route's body
    reader passes it on as a 413 instead of a parse error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over `limit` bytes, by its Content-Length before
    anything reads it, else by counting while it streams in (chunked bodies)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(send)
            return
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send) -> None:
        response = JSONResponse({"detail": f"request body larger than {self.limit} bytes"}, status_code=413,
                                headers={"Connection": "close"})
        await response({"type": "http"}, None, send)


def _bearer(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    return authorization[len("Bearer "):].strip()


def create_app(study_dir: str | Path) -> FastAPI:
    """Build the app for one study folder (``study.json``; votes go to ``votes.sqlite`` beside it)."""
    study = load_study(study_dir)
    server = VoteServer(study, VoteStore(Path(study_dir) / DB_FILE))
    app = FastAPI(title="framepack-bench votes", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = server
    app.add_middleware(BodySizeLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the input, and NaN cannot be written as JSON (a 500); name the field only.
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in error.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def annotator_from_header(authorization: Annotated[str | None, Header()] = None) -> tuple[Annotator, str]:
        token = _bearer(authorization)
        annotator = server.store.annotator_for_token(token)
        if annotator is None:
            raise HTTPException(status_code=401, detail="missing or invalid annotator token",
                                headers={"WWW-Authenticate": "Bearer"})
        return annotator, token

    @app.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return "<!doctype html><title>votes</title><p>Open the invite link you were given.</p>"

    @app.get("/a/{token}", response_class=HTMLResponse)
    def page(token: str) -> Response:
        if not TOKEN_PATTERN.fullmatch(token) or server.store.annotator_for_token(token) is None:
            return HTMLResponse("<!doctype html><title>invalid link</title><p>This invite link is not valid.</p>",
                                status_code=401)
        return HTMLResponse((STATIC_DIR / "vote.html").read_text())

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            raise HTTPException(status_code=404, detail="not found")
        return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name])

    @app.get("/api/state")
    def state(who: Annotated[tuple[Annotator, str], Depends(annotator_from_header)]) -> dict:
        annotator, token = who
        return server.state(annotator, token)

    @app.post("/api/votes")
    def vote(vote: VoteIn, who: Annotated[tuple[Annotator, str], Depends(annotator_from_header)]) -> Response:
        annotator, token = who
        item = server.items.get(vote.item_id)
        if item is None or not server.offers(annotator, vote.item_id):
            raise HTTPException(status_code=404, detail=f"unknown item {vote.item_id}")
        if vote.choice != "skip" and not vote.watched:
            raise HTTPException(status_code=422, detail="watch both videos to the end before voting")
        try:
            created, _ = server.store.record_vote(vote.vote_id, annotator, item, vote.choice, vote.watch_ms)
        except VoteConflict as error:
            raise HTTPException(status_code=409, detail=str(error)) from error
        body = {"status": "created" if created else "duplicate", "vote_id": vote.vote_id,
                "state": server.state(annotator, token)}
        return JSONResponse(body, status_code=201 if created else 200)

    @app.get("/media/{media_id}")
    def media(media_id: str, token: Annotated[str | None, Query(max_length=128)] = None) -> Response:
        if server.store.annotator_for_token(token) is None:
            raise HTTPException(status_code=401, detail="missing or invalid annotator token")
        try:
            path = study.media_path(media_id)
        except KeyError:
            raise HTTPException(status_code=404, detail="unknown media id") from None
        if not path.is_file():
            raise HTTPException(status_code=404, detail="media file is missing on the server")
        return FileResponse(path, media_type="video/mp4")

    return app


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(study_dir: str | Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the vote server with uvicorn (no access log: invite tokens travel in URLs)."""
    import uvicorn

    uvicorn.run(create_app(study_dir), host=host, port=port, access_log=False, log_level="warning")
