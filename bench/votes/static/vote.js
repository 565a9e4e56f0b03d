// Blind A/B voting page: one controller drives both videos; voting unlocks once both were watched
// through. All text from the server is inserted with textContent (never as HTML).
"use strict";
(() => {
  const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  const $ = (id) => document.getElementById(id);
  const videos = { left: $("left"), right: $("right") };
  const playButton = $("play"), seek = $("seek"), loop = $("loop"), timeLabel = $("time");
  const voteButtons = Array.from(document.querySelectorAll("button.vote"));
  let item = null, watched = { left: false, right: false }, busy = false, shownAt = 0, seeking = false;

  const setStatus = (text) => { $("status").textContent = text; };
  const both = () => [videos.left, videos.right];
  const duration = () => Math.max(...both().map((v) => (isFinite(v.duration) ? v.duration : 0)));
  const playing = () => both().some((v) => !v.paused && !v.ended);

  function playedShare(video) {
    let total = 0;
    for (let i = 0; i < video.played.length; i++) total += video.played.end(i) - video.played.start(i);
    return isFinite(video.duration) && video.duration > 0 ? total / video.duration : 0;
  }

  function refreshButtons() {
    const ready = watched.left && watched.right && item !== null && !busy;
    for (const b of voteButtons) b.disabled = b.dataset.choice === "skip" ? (item === null || busy) : !ready;
    document.body.dataset.watched = String(watched.left && watched.right);
    if (item && !(watched.left && watched.right)) setStatus("Watch both videos to the end to enable voting.");
    else if (item && !busy) setStatus("Vote: 1 / ← A better, 2 / → B better, 3 / t tie, 4 / b both bad, s skip.");
  }

  function showTime() {
    const t = videos.left.currentTime, d = duration();
    timeLabel.textContent = `${t.toFixed(1)} / ${d.toFixed(1)} s`;
    if (!seeking && d > 0) seek.value = String(Math.round((1000 * t) / d));
    playButton.textContent = playing() ? "Pause" : "Play";
  }

  async function playBoth() {
    if (both().every((v) => v.ended)) both().forEach((v) => { v.currentTime = 0; });
    try { await Promise.all(both().map((v) => v.play())); } catch (e) { setStatus(`Cannot play: ${e.message}`); }
    showTime();
  }
  function pauseBoth() { both().forEach((v) => v.pause()); showTime(); }
  function togglePlay() { if (playing()) pauseBoth(); else playBoth(); }

  // The right video follows the left one; a drift above 80 ms is corrected.
  videos.left.addEventListener("timeupdate", () => {
    const r = videos.right, l = videos.left;
    if (!r.ended && Math.abs(r.currentTime - l.currentTime) > 0.08 && l.currentTime < (r.duration || 0)) {
      r.currentTime = l.currentTime;
    }
    showTime();
  });
  for (const side of ["left", "right"]) {
    videos[side].addEventListener("ended", () => {
      if (playedShare(videos[side]) >= 0.9) watched[side] = true;
      refreshButtons();
      if (both().every((v) => v.ended)) {
        if (loop.checked) playBoth(); else showTime();
      }
    });
    videos[side].addEventListener("error", () => setStatus(`The ${side} video failed to load.`));
  }
  playButton.addEventListener("click", togglePlay);
  seek.addEventListener("input", () => {
    seeking = true;
    const t = (Number(seek.value) / 1000) * duration();
    both().forEach((v) => { v.currentTime = Math.min(t, isFinite(v.duration) ? v.duration : t); });
    seeking = false;
    showTime();
  });

  async function api(path, options = {}) {
    const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    return fetch(path, { ...options, headers });
  }

  function newVoteId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function render(state) {
    $("progress").textContent = `${state.done} / ${state.total} done`;
    document.body.dataset.done = String(state.done);
    item = state.item;
    watched = { left: false, right: false };
    if (!item) {
      $("study").hidden = true;
      $("finished").hidden = false;
      document.body.dataset.itemId = "";
      return;
    }
    document.body.dataset.itemId = item.item_id;
    $("prompt").textContent = item.prompt;
    pauseBoth();
    videos.left.src = item.left;
    videos.right.src = item.right;
    both().forEach((v) => v.load());
    shownAt = performance.now();
    refreshButtons();
  }

  async function loadState() {
    const response = await api("/api/state");
    if (!response.ok) { setStatus(`Cannot load the study (HTTP ${response.status}).`); return; }
    render(await response.json());
  }

  async function vote(choice) {
    if (!item || busy) return;
    if (choice !== "skip" && !(watched.left && watched.right)) return;
    busy = true;
    refreshButtons();
    const body = JSON.stringify({
      vote_id: newVoteId(), item_id: item.item_id, choice,
      watched: watched.left && watched.right, watch_ms: Math.round(performance.now() - shownAt),
    });
    // Retries reuse the same vote_id, so a vote whose answer was lost is stored once.
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        const response = await api("/api/votes", { method: "POST", body });
        if (response.ok) { busy = false; render((await response.json()).state); setStatus("Saved."); return; }
        if (response.status === 409) { busy = false; await loadState(); return; }
        if (response.status < 500) { busy = false; setStatus(`Vote rejected (HTTP ${response.status}).`); refreshButtons(); return; }
      } catch (e) { /* network error: retry */ }
      setStatus("Saving… (retrying)");
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
    busy = false;
    setStatus("Could not save the vote; please try again.");
    refreshButtons();
  }

  for (const b of voteButtons) b.addEventListener("click", () => vote(b.dataset.choice));
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.type !== "checkbox" && event.key !== " ") return;
    const keys = { ArrowLeft: "left", 1: "left", ArrowRight: "right", 2: "right", t: "tie", 3: "tie",
                   b: "both_bad", 4: "both_bad", s: "skip" };
    if (event.key === " ") { event.preventDefault(); togglePlay(); return; }
    const choice = keys[event.key];
    if (choice) { event.preventDefault(); vote(choice); }
  });

  loadState();
})();
