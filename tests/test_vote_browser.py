"""A real browser (Playwright driving Debian's Chromium) votes through an invite link."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.votes.demo_videos import make_demo_videos
from bench.votes.store import VoteStore
from bench.votes.study import DB_FILE, create_study_from_videos

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SERVE = "import sys; from bench.votes.app import serve; serve(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]))"
PROMPT = 'a <img src=x onerror="window.pwned=1"> & <script>window.pwned=2</script> fox'

pytestmark = pytest.mark.browser


def _require_browser():
    missing = []
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing.append(f"Debian chromium ({CHROMIUM}; `apt-get install -y chromium`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright python package (`pip install playwright`, never `playwright install`)")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: missing {missing}")
        pytest.skip(f"BROWSER TEST NOT RUN: missing {missing}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["round-robin", "adaptive"])
def server(tmp_path, request):
    _require_browser()
    records = make_demo_videos(tmp_path / "videos", ["red", "green", "blue"], prompts=2, frames=8)
    records = [r.__class__(r.row, r.prompt_id, r.seed, r.video, PROMPT) for r in records]
    study_dir = tmp_path / "study"
    create_study_from_videos(records, "browser", per_row=4, seed=3, directory=study_dir, gold_broken=1, gold_swap=1,
                             pairing=request.param)
    store = VoteStore(study_dir / DB_FILE)
    _, token = store.add_annotator("alice")
    store.close()
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(study_dir), str(port)], cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("vote server did not start")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/a/{token}", study_dir
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_for(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression (page.wait_for_function would need 'unsafe-eval', which our CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)


def _current_item(page) -> str:
    _wait_for(page, "!!document.body.dataset.itemId && document.body.dataset.itemId.length === 16")
    return page.evaluate("document.body.dataset.itemId")


def _watch_both(page, start_with_keyboard: bool) -> None:
    assert page.locator("button.vote[data-choice=left]").is_disabled()
    if start_with_keyboard:
        page.keyboard.press("Space")
    else:
        page.click("#play")
    page.wait_for_selector("body[data-watched=true]", timeout=20_000)
    assert page.locator("button.vote[data-choice=left]").is_enabled()


def _wait_done(page, done: int) -> None:
    _wait_for(page, f"document.body.dataset.done === '{done}'")


def test_browser_plays_both_votes_with_mouse_and_keyboard_and_resumes_after_reload(server):
    from playwright.sync_api import sync_playwright

    invite, study_dir = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(invite)
            voted = []

            # 1. mouse: play with the controller, vote "A is better" by clicking.
            first = _current_item(page)
            assert page.locator("#prompt").text_content() == PROMPT  # shown literally, not as HTML
            assert page.locator("#progress").text_content().startswith("0 / ")
            _watch_both(page, start_with_keyboard=False)
            gap = page.evaluate("Math.abs(left.currentTime - right.currentTime)")
            assert gap < 0.15  # one controller keeps both videos together
            page.click("button.vote[data-choice=left]")
            _wait_done(page, 1)
            voted.append((first, "left"))

            # 2. the seek bar moves both videos together.
            second = _current_item(page)
            assert second != first
            _wait_for(page, "left.readyState >= 1 && right.readyState >= 1")
            page.evaluate("const s = document.getElementById('seek'); s.value = '500';"
                          "s.dispatchEvent(new Event('input'))")
            times = page.evaluate("[left.currentTime, right.currentTime, left.duration]")
            assert abs(times[0] - times[1]) < 0.05 and abs(times[0] - times[2] / 2) < 0.1

            # 3. keyboard: space plays, "2" votes B.
            _watch_both(page, start_with_keyboard=True)
            page.keyboard.press("2")
            _wait_done(page, 2)
            voted.append((second, "right"))

            # 4. reload: resume at the third item with progress 2.
            third = _current_item(page)
            page.reload()
            assert _current_item(page) == third
            assert page.locator("#progress").text_content().startswith("2 / ")
            assert page.locator("button.vote[data-choice=tie]").is_disabled()  # must watch again
            _watch_both(page, start_with_keyboard=False)
            page.keyboard.press("t")
            _wait_done(page, 3)
            voted.append((third, "tie"))

            assert dialogs == [] and page.evaluate("window.pwned === undefined")
        finally:
            browser.close()

    votes = VoteStore(study_dir / DB_FILE).votes()
    assert list(zip(votes["item_id"], votes["choice"], strict=True)) == voted
    assert set(votes["judge"]) == {"alice"} and votes["vote_id"].is_unique
    assert (votes["watch_ms"] > 0).all()
