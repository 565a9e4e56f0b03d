"""The vote server in-process: auth, validation, media registry, idempotency, resume, escaping."""

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from bench.votes.app import create_app, is_loopback
from bench.votes.demo_videos import make_demo_videos
from bench.votes.store import VoteStore
from bench.votes.study import DB_FILE, create_study_from_videos

PROMPT = 'a <script>alert("x")</script> & <b>bold</b> cat'


@pytest.fixture()
def served(tmp_path):
    records = make_demo_videos(tmp_path / "videos", ["red", "green", "blue"], prompts=2, frames=4)
    records = [r.__class__(r.row, r.prompt_id, r.seed, r.video, PROMPT) for r in records]
    study_dir = tmp_path / "study"
    create_study_from_videos(records, "t", per_row=4, seed=0, directory=study_dir, gold_broken=1, gold_swap=1)
    store = VoteStore(study_dir / DB_FILE)
    _, token = store.add_annotator("alice")
    _, other = store.add_annotator("bob")
    client = TestClient(create_app(study_dir))
    return client, token, other, study_dir


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _vote(client, token, item_id, choice="left", vote_id=None, watched=True):
    body = {"vote_id": vote_id or str(uuid.uuid4()), "item_id": item_id, "choice": choice, "watched": watched}
    return client.post("/api/votes", json=body, headers=_auth(token))


def _rows(study_dir):
    return VoteStore(study_dir / DB_FILE).votes()


def test_state_gives_next_item_with_progress(served):
    client, token, _, _ = served
    state = client.get("/api/state", headers=_auth(token)).json()
    assert state["done"] == 0 and state["total"] > 0 and state["annotator"] == "alice"
    assert state["item"]["prompt"] == PROMPT  # raw text in JSON; the page inserts it as text
    assert state["item"]["left"].startswith("/media/")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope-not-a-token-at-all"},
                                     {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}])
def test_vote_endpoints_require_a_valid_token(served, headers):
    client, token, _, _ = served
    item_id = client.get("/api/state", headers=_auth(token)).json()["item"]["item_id"]
    assert client.get("/api/state", headers=headers).status_code == 401
    body = {"vote_id": str(uuid.uuid4()), "item_id": item_id, "choice": "left", "watched": True}
    assert client.post("/api/votes", json=body, headers=headers).status_code == 401


def test_invite_page_needs_a_valid_token(served):
    client, token, _, _ = served
    assert client.get(f"/a/{token}").status_code == 200
    assert client.get("/a/this-token-does-not-exist-anywhere").status_code == 401


def test_page_never_embeds_the_prompt_and_sets_a_strict_csp(served):
    client, token, _, _ = served
    page = client.get(f"/a/{token}")
    assert "<script>alert" not in page.text and "bold</b>" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    script = client.get("/static/vote.js").text
    assert "textContent = item.prompt" in script and "innerHTML" not in script


def test_unknown_item_is_404(served):
    client, token, _, _ = served
    assert _vote(client, token, "0123456789abcdef").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"vote_id": "short", "item_id": "0123456789abcdef", "choice": "left", "watched": True},
        {"vote_id": str(uuid.uuid4()), "item_id": "../../etc/passwd", "choice": "left", "watched": True},
        {"vote_id": str(uuid.uuid4()), "item_id": "0123456789abcdef", "choice": "model_a", "watched": True},
        {"vote_id": str(uuid.uuid4()), "item_id": "0123456789abcdef", "choice": "left", "watched": True, "x": 1},
        {"vote_id": str(uuid.uuid4()), "item_id": "0123456789abcdef", "choice": "left", "watch_ms": -5},
        [1, 2, 3],
    ],
)
def test_malformed_payloads_are_422(served, body):
    client, token, _, _ = served
    assert client.post("/api/votes", json=body, headers=_auth(token)).status_code == 422


def test_non_json_body_is_422(served):
    client, token, _, _ = served
    response = client.post("/api/votes", content=b"choice=left", headers={**_auth(token), "Content-Type": "text/plain"})
    assert response.status_code == 422


def test_voting_before_watching_both_videos_is_refused_but_skip_is_allowed(served):
    client, token, _, study_dir = served
    item_id = client.get("/api/state", headers=_auth(token)).json()["item"]["item_id"]
    assert _vote(client, token, item_id, watched=False).status_code == 422
    assert _vote(client, token, item_id, choice="skip", watched=False).status_code == 201
    assert list(_rows(study_dir)["choice"]) == ["skip"]


def test_retried_vote_id_is_stored_once_and_reused_id_conflicts(served):
    client, token, _, study_dir = served
    state = client.get("/api/state", headers=_auth(token)).json()
    item_id = state["item"]["item_id"]
    vote_id = str(uuid.uuid4())
    first = _vote(client, token, item_id, vote_id=vote_id)
    again = _vote(client, token, item_id, vote_id=vote_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["status"] == "duplicate"
    assert _vote(client, token, item_id, choice="right", vote_id=vote_id).status_code == 409
    assert _vote(client, token, item_id, choice="right").status_code == 409  # same item, new id
    assert len(_rows(study_dir)) == 1


def test_progress_resumes_where_the_annotator_left_off(served):
    client, token, other, _ = served
    seen = []
    for _ in range(3):
        item_id = client.get("/api/state", headers=_auth(token)).json()["item"]["item_id"]
        seen.append(item_id)
        assert _vote(client, token, item_id, choice="tie").status_code == 201
    fresh = TestClient(client.app)  # a new session (e.g. after a reload) sees the same position
    state = fresh.get("/api/state", headers=_auth(token)).json()
    assert state["done"] == 3 and state["item"]["item_id"] not in seen
    assert fresh.get("/api/state", headers=_auth(other)).json()["done"] == 0


def test_an_item_not_in_the_annotators_queue_cannot_be_voted(served, tmp_path):
    client, token, _, _ = served
    # Items are shared by all annotators of a study; ids from another study are unknown.
    records = make_demo_videos(tmp_path / "v2", ["x", "y"], prompts=1, frames=4)
    foreign = create_study_from_videos(records, "other", per_row=1, seed=9).items[0].item_id
    assert _vote(client, token, foreign).status_code == 404


def test_finishing_the_queue_reports_no_item(served):
    client, token, _, study_dir = served
    total = client.get("/api/state", headers=_auth(token)).json()["total"]
    for _ in range(total):
        item_id = client.get("/api/state", headers=_auth(token)).json()["item"]["item_id"]
        assert _vote(client, token, item_id).status_code == 201
    state = client.get("/api/state", headers=_auth(token)).json()
    assert state["item"] is None and state["done"] == total == len(_rows(study_dir))


def test_media_served_by_registry_id_with_token_and_ranges(served):
    client, token, _, _ = served
    url = client.get("/api/state", headers=_auth(token)).json()["item"]["left"]
    full = client.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.content[4:8] == b"ftyp"
    partial = client.get(url, headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206 and len(partial.content) == 100
    media_id = url.split("/")[2].split("?")[0]
    assert client.get(f"/media/{media_id}").status_code == 401
    assert client.get(f"/media/{media_id}?token=wrong-token-wrong-token").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/media/..%2Fstudy.json",
        "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/media/../study.json",
        "/media/.%2e",
        "/media/%2Fetc%2Fpasswd",
        "/media/0123456789abcdef",
        "/media/study.json",
        "/static/..%2Fapp.py",
        "/static/vote.html%00.js",
        "/static/../app.py",
        "/media/{media_id}%0A",
        "/media/{media_id}%00",
    ],
)
def test_path_traversal_and_unknown_media_are_not_served(served, path):
    client, token, _, _ = served
    media_id = client.get("/api/state", headers=_auth(token)).json()["item"]["left"].split("/")[2].split("?")[0]
    path = path.replace("{media_id}", media_id)
    sep = "&" if "?" in path else "?"
    response = client.get(f"{path}{sep}token={token}")
    assert response.status_code == 404
    assert b"annotators" not in response.content and b"import" not in response.content


def test_server_binds_loopback_by_default():
    import inspect

    from bench.votes import app

    assert inspect.signature(app.serve).parameters["host"].default == "127.0.0.1"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def _count_token_lookups(client, monkeypatch) -> list:
    store = client.app.state.server.store
    lookups = []
    real = store.annotator_for_token
    monkeypatch.setattr(store, "annotator_for_token", lambda token: lookups.append(token) or real(token))
    return lookups


def test_a_body_over_the_limit_is_refused_before_it_is_read_or_any_token_is_looked_up(served, monkeypatch):
    from bench.votes.app import MAX_BODY_BYTES

    client, token, _, study_dir = served
    lookups = _count_token_lookups(client, monkeypatch)
    big = b'{"vote_id": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    response = client.post("/api/votes", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and str(MAX_BODY_BYTES) in response.json()["detail"]
    response = client.post("/api/votes", content=big, headers={**_auth(token), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert lookups == [] and len(_rows(study_dir)) == 0


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(served, monkeypatch):
    """Driven as raw ASGI, so we see how much of a chunked body the server pulls in."""
    import asyncio

    client, token, _, _ = served
    lookups = _count_token_lookups(client, monkeypatch)
    pulled, sent = [], []

    async def receive():
        pulled.append(1)
        return {"type": "http.request", "body": b" " * 65536, "more_body": len(pulled) < 1000}  # 64 MB in all

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/votes", "raw_path": b"/api/votes", "query_string": b"", "root_path": "",
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert len(pulled) <= 2 and lookups == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_number_in_a_vote_is_a_422_naming_the_field_never_a_500(served, number):
    client, token, _, study_dir = served
    item_id = client.get("/api/state", headers=_auth(token)).json()["item"]["item_id"]
    fields = json.dumps({"vote_id": str(uuid.uuid4()), "item_id": item_id, "choice": "left", "watched": True})
    body = fields[:-1] + f', "watch_ms": {number}}}'  # JSON has no NaN: written by hand
    response = client.post("/api/votes", content=body, headers={**_auth(token), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert any("watch_ms" in error["loc"] for error in response.json()["detail"])
    assert len(_rows(study_dir)) == 0


def test_tokens_are_per_study_any_media_of_the_study_and_none_of_another(served, tmp_path):
    client, token, other, study_dir = served
    media_urls = [client.get("/api/state", headers=_auth(token)).json()["item"][side] for side in ("left", "right")]
    for url in media_urls:
        media_id = url.split("/")[2].split("?")[0]
        assert client.get(f"/media/{media_id}?token={other}").status_code == 200  # bob opens alice's item
    records = make_demo_videos(tmp_path / "videos2", ["red", "green"], prompts=1, frames=4)
    second = tmp_path / "study2"
    create_study_from_videos(records, "u", per_row=1, seed=1, directory=second)
    _, stranger = VoteStore(second / DB_FILE).add_annotator("carol")
    media_id = media_urls[0].split("/")[2].split("?")[0]
    assert client.get(f"/media/{media_id}?token={stranger}").status_code == 401
    assert client.get("/api/state", headers=_auth(stranger)).status_code == 401
