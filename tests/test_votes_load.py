"""Load and durability against a real server process: 20 annotators × 50 votes, with a kill mid-way."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from bench.votes.demo_videos import make_demo_videos
from bench.votes.store import VoteStore
from bench.votes.study import DB_FILE, create_study_from_videos

REPO = Path(__file__).resolve().parents[1]
SERVE = "import sys; from bench.votes.app import serve; serve(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]))"
ANNOTATORS = 20
VOTES_EACH = 50
DEADLINE_S = 150.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(study_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(study_dir), str(port)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not come up within 30 s")


class Annotator(threading.Thread):
    """Votes through the HTTP API like the page does: retries reuse the vote id."""

    def __init__(self, base: str, token: str, stop_at: float) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.stop_at = base, token, stop_at
        self.acknowledged: list[str] = []
        self.duplicates = 0
        self.retries = 0
        self.error: str | None = None

    def _request(self, client, method, path, **kwargs):
        while time.monotonic() < self.stop_at:
            try:
                response = client.request(method, path, **kwargs)
                if response.status_code < 500:
                    return response
            except httpx.TransportError:
                pass
            self.retries += 1
            time.sleep(0.05)
        raise TimeoutError(f"{method} {path} did not succeed before the deadline")

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.Client(base_url=self.base, headers=headers, timeout=10) as client:
                while len(self.acknowledged) < VOTES_EACH:
                    state = self._request(client, "GET", "/api/state").json()
                    body = {"vote_id": str(uuid.uuid4()), "item_id": state["item"]["item_id"],
                            "choice": ("left", "right", "tie", "both_bad")[len(self.acknowledged) % 4],
                            "watched": True, "watch_ms": 1000}
                    response = self._request(client, "POST", "/api/votes", json=body)
                    if response.status_code not in (200, 201):
                        raise AssertionError(f"vote answered {response.status_code}: {response.text}")
                    self.duplicates += response.status_code == 200
                    self.acknowledged.append(body["vote_id"])
                    if len(self.acknowledged) % 10 == 0:  # a deliberate client retry of an acknowledged vote
                        again = self._request(client, "POST", "/api/votes", json=body)
                        assert again.status_code == 200 and again.json()["status"] == "duplicate"
                        self.duplicates += 1
        except Exception as error:  # reported by the test
            self.error = repr(error)


@pytest.mark.slow
def test_20_annotators_x_50_votes_with_a_server_kill_mid_way_store_exactly_1000_votes(tmp_path):
    records = make_demo_videos(tmp_path / "videos", ["a", "b", "c"], prompts=3, frames=4)
    study_dir = tmp_path / "study"
    create_study_from_videos(records, "load", per_row=40, seed=0, directory=study_dir, gold_broken=1, gold_swap=2)
    store = VoteStore(study_dir / DB_FILE)
    tokens = [store.add_annotator(f"annotator-{k:02d}")[1] for k in range(ANNOTATORS)]
    store.close()

    port = _free_port()
    server = _start_server(study_dir, port)
    start = time.monotonic()
    clients = [Annotator(f"http://127.0.0.1:{port}", token, start + DEADLINE_S) for token in tokens]
    restarts = 0
    try:
        for client in clients:
            client.start()
        # Kill the server hard once half the votes are acknowledged, then start it again.
        while sum(len(c.acknowledged) for c in clients) < ANNOTATORS * VOTES_EACH // 2:
            assert time.monotonic() - start < DEADLINE_S, "no progress"
            time.sleep(0.02)
        acknowledged_before_kill = sum(len(c.acknowledged) for c in clients)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        time.sleep(0.5)
        server = _start_server(study_dir, port)
        restarts += 1
        for client in clients:
            client.join(timeout=max(1.0, start + DEADLINE_S - time.monotonic()))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    elapsed = time.monotonic() - start

    assert [c.error for c in clients if c.error] == []
    votes = VoteStore(study_dir / DB_FILE).votes()
    acknowledged = {v for c in clients for v in c.acknowledged}
    assert len(votes) == ANNOTATORS * VOTES_EACH == 1000
    assert votes["vote_id"].is_unique
    assert not votes.duplicated(["annotator_id", "item_id"]).any()
    assert set(votes["vote_id"]) == acknowledged  # nothing acknowledged was lost, nothing extra stored
    assert (votes.groupby("judge").size() == VOTES_EACH).all()
    print(f"\nload test: {len(votes)} votes from {ANNOTATORS} annotators in {elapsed:.1f} s "
          f"({len(votes) / elapsed:.0f} votes/s incl. restart); server SIGKILLed after "
          f"{acknowledged_before_kill} acknowledged votes and restarted {restarts}x; "
          f"{sum(c.retries for c in clients)} client retries, {sum(c.duplicates for c in clients)} duplicate "
          f"answers to retried vote ids")
