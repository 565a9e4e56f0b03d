"""`fpbench votes …` and `fpbench rate` end to end through the CLI entry point."""

import json

import pandas as pd
import pytest

import bench.cli
from bench.votes.demo_videos import make_demo_videos


@pytest.fixture()
def fpbench(monkeypatch):
    """Run `fpbench` with only this suite's subcommands registered (isolated from other modules)."""
    monkeypatch.setattr(bench.cli, "SUBCOMMAND_MODULES", ["votes", "rate"])
    return bench.cli.main


@pytest.fixture()
def video_list(tmp_path):
    records = make_demo_videos(tmp_path / "videos", ["inv", "van", "vanD"], prompts=2, frames=4)
    frame = pd.DataFrame([r.__dict__ for r in records])
    frame["video"] = [str(p).split("/")[-1] for p in frame["video"]]  # relative to the list's folder
    path = tmp_path / "videos" / "videos.csv"
    frame.to_csv(path, index=False)
    return path


def test_create_invite_simulate_export_and_rate(fpbench, video_list, tmp_path, capsys):
    study = tmp_path / "study"
    assert fpbench(["votes", "create-study", str(video_list), "--name", "cli", "--per-row", "8",
                    "--out", str(study), "--gold-broken", "1", "--gold-swap", "1"]) == 0
    assert "assessments per row: inv=8, van=8, vanD=8" in capsys.readouterr().out

    assert fpbench(["votes", "invite", str(study), "alice", "--base-url", "http://127.0.0.1:9000"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("http://127.0.0.1:9000/a/") and len(link.rsplit("/", 1)[1]) >= 24

    assert fpbench(["votes", "simulate", str(study), "--strength", "inv=1200", "--strength", "van=1000",
                    "--strength", "vanD=1050", "--annotators", "4", "--seed", "3",
                    "--tie-rate", "0", "--both-bad-rate", "0"]) == 0
    assert "SIMULATED" in capsys.readouterr().out

    for fmt, name in (("jsonl", "votes.jsonl"), ("csv", "votes.csv"), ("fastchat", "votes.json")):
        assert fpbench(["votes", "export", str(study), "--format", fmt]) == 0
        assert (study / name).is_file()
    capsys.readouterr()

    assert fpbench(["rate", str(study), "--permutations", "30", "--bootstrap", "30", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED judges" in out and "│ inv " in out and "**" not in out  # drawn for a terminal
    ratings = pd.read_parquet(study / "ratings" / "ratings.parquet")
    assert ratings.iloc[0]["model"] == "inv" and ratings["simulated"].all()
    summary = json.loads((study / "ratings" / "summary.json").read_text())
    assert summary["gold_votes"] == 4 * 2 and summary["annotators"] == 4
    gold = pd.read_parquet(study / "ratings" / "gold.parquet")
    assert (gold["broken_accuracy"] == 1.0).all()  # attentive judges (no tie noise) reject broken videos

    assert fpbench(["rate", str(study / "votes.json"), "--permutations", "10", "--bootstrap", "10",
                    "--no-figures"]) == 0
    assert (tmp_path / "study" / "votes_ratings" / "ratings.md").is_file()


def test_import_command_reports_counts(fpbench, video_list, tmp_path, capsys):
    rows = [{"model_a": "inv", "model_b": "van", "winner": "model_a", "judge": "ext", "tstamp": 1.0}]
    (tmp_path / "arena.json").write_text(json.dumps(rows))
    study = tmp_path / "study"
    fpbench(["votes", "create-study", str(video_list), "--name", "imp", "--per-row", "2", "--out", str(study)])
    capsys.readouterr()
    assert fpbench(["votes", "import", str(study), str(tmp_path / "arena.json")]) == 0
    assert "imported 1 votes" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["votes", "simulate", "{study}", "--strength", "inv=1100", "--strength", "van=1000"], "vanD"),
        (["votes", "simulate", "{study}", "--strength", "inv:1100"], "ROW=ELO"),
        (["votes", "simulate", "{study}"], "--strength"),
        (["votes", "invite", "{tmp}/nowhere", "bob"], "no study at"),
        (["votes", "export", "{study}"], "no votes yet"),
        (["rate", "{tmp}/missing.jsonl"], "missing.jsonl"),
        (["votes", "create-study", "{list}", "--name", "again", "--out", "{study}"], "already exists"),
        (["votes", "create-study", "{list}", "--name", "bad/name"], "study name"),
    ],
)
def test_bad_input_gives_a_clear_error_without_traceback(fpbench, video_list, tmp_path, capsys, argv, message):
    study = tmp_path / "study"
    fpbench(["votes", "create-study", str(video_list), "--name", "err", "--per-row", "2", "--out", str(study)])
    capsys.readouterr()
    argv = [a.format(study=study, tmp=tmp_path, list=video_list) for a in argv]
    assert fpbench(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_serve_command_binds_loopback_and_serves_the_invite_page(video_list, tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    repo = str(Path(__file__).resolve().parents[1])
    study = tmp_path / "study"
    run = ("import sys, bench.cli as cli; cli.SUBCOMMAND_MODULES = ['votes']; sys.exit(cli.main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": repo}
    subprocess.run([sys.executable, "-c", run, "votes", "create-study", str(video_list), "--name", "srv",
                    "--per-row", "2", "--out", str(study)], check=True, cwd=repo, env=env, capture_output=True)
    link = subprocess.run([sys.executable, "-c", run, "votes", "invite", str(study), "carol"], check=True,
                          cwd=repo, env=env, capture_output=True, text=True).stdout.strip()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", run, "votes", "serve", str(study), "--port", str(port)],
                              cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        token = link.rsplit("/", 1)[1]
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/a/{token}", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.1)
        assert page.status_code == 200 and "/static/vote.js" in page.text
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        if listening:  # ss is present: the socket is bound to loopback only
            local_addresses = {line.split()[3] for line in listening.splitlines()}
            assert local_addresses == {f"127.0.0.1:{port}"}
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_simulate_from_metric_scores(fpbench, video_list, tmp_path, capsys):
    study = tmp_path / "study"
    fpbench(["votes", "create-study", str(video_list), "--name", "sc", "--per-row", "30", "--out", str(study)])
    scores = tmp_path / "scores.csv"
    pd.DataFrame({"row": ["inv", "van", "vanD"], "score": [0.9, 0.2, 0.5]}).to_csv(scores, index=False)
    assert fpbench(["votes", "simulate", str(study), "--scores", str(scores), "--annotators", "3"]) == 0
    assert fpbench(["rate", str(study), "--permutations", "10", "--bootstrap", "10", "--no-figures"]) == 0
    board = pd.read_parquet(study / "ratings" / "ratings.parquet").set_index("model")
    assert board.loc["inv", "bt"] > board.loc["vanD", "bt"] > board.loc["van", "bt"]


def test_status_shows_progress_per_annotator_and_row(fpbench, video_list, tmp_path, capsys):
    from bench.cli.votes import study_progress

    study = tmp_path / "study"
    fpbench(["votes", "create-study", str(video_list), "--name", "st", "--per-row", "4", "--out", str(study),
             "--gold-broken", "1", "--gold-swap", "1"])
    fpbench(["votes", "invite", str(study), "dave"])
    fpbench(["votes", "simulate", str(study), "--strength", "inv=1100", "--strength", "van=1000",
             "--strength", "vanD=1000", "--annotators", "2", "--votes-per-annotator", "5"])
    capsys.readouterr()
    assert fpbench(["votes", "status", str(study)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any("simulated-judge-00" in line and "SIMULATED" in line for line in lines)
    assert any("dave" in line and "human" in line for line in lines)
    per_annotator, per_row = study_progress(study)
    assert per_annotator.set_index("annotator").loc["dave", "answered"] == 0
    assert per_annotator.set_index("annotator").loc["simulated-judge-01", "answered"] == 5
    assert per_row["assessments"].sum() <= 2 * 2 * 5 and set(per_row["target"]) == {4}


def test_status_shows_annotator_names_as_plain_text(fpbench, video_list, tmp_path, capsys):
    study = tmp_path / "study"
    fpbench(["votes", "create-study", str(video_list), "--name", "mk", "--per-row", "4", "--out", str(study)])
    for name in ("[/bold]eve", "[red]mallory"):
        assert fpbench(["votes", "invite", str(study), name]) == 0
    capsys.readouterr()
    assert fpbench(["votes", "status", str(study)]) == 0
    out = capsys.readouterr().out
    assert "[/bold]eve" in out and "[red]mallory" in out
