// The live dashboard: the analysed frames with their overlays, per-track plots, the visitor's own camera,
// recording and replay. Talks to the server that served it (/ws/view, /ws/camera, /api/...).
"use strict";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => (token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path);
const wsUrl = (path) => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${withToken(path)}`;

let EXPRESSIONS = [], AUS = [];  // the label order, from /api/status (the model's labels)
const DRIVER = ["eye L", "eye R", "PERCLOS", "closed/3 s"];  // openness, openness, share, closure in 3 s units

// State the page shows, also read by the browser tests (window.affect).
const affect = window.affect = {
  mode: null, frames: 0, faces: 0, lastMessage: null, latencies: [], fps: null, ended: null, errors: [],
  driver: false, tracks: new Set(), replay: null, sentFrames: 0, source: null,
  timings: [],  // browser camera: per answered frame, ms: total, server (receipt -> answer), encode (grab -> sent)
};
let plots = {};
function makePlots() {
  plots = {
    expressions: new TimePlot($("plot-expressions"), EXPRESSIONS, [0, 1], 30),
    va: new TimePlot($("plot-va"), ["valence", "arousal"], [-1, 1], 30),
    aus: new TimePlot($("plot-aus"), AUS, [0, 1], 30, { active: 4, threshold: 0.3 }),  // the active AUs only
    driver: new TimePlot($("plot-driver"), DRIVER, [0, 1], 60),
  };
  affect.plots = plots;
}
const smoother = new Smoother();
const view = $("view"), ctx = view.getContext("2d");
let socket = null, cameraSocket = null, cameraStream = null;

function showError(text) {
  affect.errors.push(text);
  $("error").textContent = text; $("error").hidden = false;
  setTimeout(() => { $("error").hidden = true; }, 6000);
}

function layer(name) { return $(`layer-${name}`).checked; }

// ---- drawing ------------------------------------------------------------------------------------------
function drawFrame(image, message) {
  const w = image.videoWidth || image.width, h = image.videoHeight || image.height;  // a <video> or a bitmap
  if (!w || !h) return;
  if (view.width !== w || view.height !== h) { view.width = w; view.height = h; }
  ctx.drawImage(image, 0, 0, w, h);
  if (message) drawOverlay(message, w / (message.width || w));
}

function drawOverlay(message, scale) {
  const text = Math.max(12, Math.round(view.width / 60));
  ctx.font = `${text}px system-ui, sans-serif`; ctx.lineWidth = Math.max(2, view.width / 400);
  for (const face of message.faces || []) {
    const [x, y, w, h] = face.box.map((v) => v * scale);
    const colour = PALETTE[face.track_id % PALETTE.length];
    if (layer("boxes")) { ctx.strokeStyle = colour; ctx.strokeRect(x, y, w, h); }
    const lines = [];
    if (layer("labels")) {
      const p = face.expressions[face.expression];
      // the expression model has no yawn (a yawn reads as anger): say what the driver monitor knows
      lines.push(yawning(message, face) ? `#${face.track_id} yawning`
                                        : `#${face.track_id} ${face.expression} ${(100 * p).toFixed(0)}%`);
    }
    if (layer("va")) lines.push(`V ${face.valence.toFixed(2)}  A ${face.arousal.toFixed(2)}`);
    lines.forEach((line, i) => {
      const ty = Math.max(text + 2, y - 6 - (lines.length - 1 - i) * (text + 4));
      const width = ctx.measureText(line).width;
      ctx.fillStyle = "rgba(0,0,0,0.6)"; ctx.fillRect(x - 2, ty - text, width + 6, text + 4);
      ctx.fillStyle = "#ffffff"; ctx.fillText(line, x + 1, ty);
    });
  }
}

function yawning(message, face) {
  return !!(message.driver && message.driver.yawn && message.driver.track_id === face.track_id);
}

function chosenTrack() {
  const v = $("track").value;
  return v === "" ? null : Number(v);
}

function updateTrackList() {
  const select = $("track"), have = new Set([...select.options].map((o) => Number(o.value)));
  for (const id of affect.tracks) {
    if (!have.has(id)) { const o = document.createElement("option"); o.value = id; o.textContent = `#${id}`; select.appendChild(o); }
  }
}

let plotsDirty = false, plotsDrawn = 0;

function plotMessage(message) {
  plotsDirty = true;
  for (const face of message.faces || []) {
    if (!affect.tracks.has(face.track_id)) { affect.tracks.add(face.track_id); updateTrackList(); }
  }
  const track = chosenTrack() ?? (message.faces && message.faces.length ? message.faces[0].track_id : null);
  const face = (message.faces || []).find((f) => f.track_id === track);
  if (!face) return;
  const alpha = Number($("smoothing").value), t = message.time_s;
  plots.expressions.push(t, smoother.apply(`e${track}`, EXPRESSIONS.map((n) => face.expressions[n]), alpha));
  plots.va.push(t, smoother.apply(`v${track}`, [face.valence, face.arousal], alpha));
  plots.aus.push(t, smoother.apply(`a${track}`, AUS.map((n) => face.action_units[n]), alpha));
  if (message.driver) {
    const d = message.driver;
    plots.driver.push(t, [d.eye_open_left, d.eye_open_right, d.perclos, Math.min(1, (d.closure_s || 0) / 3)]);
  }
}

function redrawPlots(start, end) {
  for (const [name, box] of [["expressions", "expressions"], ["va", "vaplot"], ["aus", "aus"], ["driver", "driver"]]) {
    const shown = layer(box) && (name !== "driver" || affect.driver);
    $(`box-${box}`).hidden = !shown;
    if (shown) plots[name].draw(start, end);
  }
}

function showReadings(message) {
  const faces = message.faces || [];
  $("readings").textContent = faces.length
    ? faces.map((f) => `#${f.track_id} ${yawning(message, f) ? "yawning" : f.expression} · valence ${f.valence.toFixed(2)} · arousal ${f.arousal.toFixed(2)}`).join("   ")
    : "no face";
}

function onFrameMessage(message) {
  affect.frames += 1; affect.faces = (message.faces || []).length; affect.lastMessage = message;
  affect.fps = message.fps;
  if (message.driver) affect.driver = true;
  $("fps").textContent = message.fps ? `analysed ${message.fps.toFixed(1)} fps` : "analysed – fps";
  plotMessage(message); showReadings(message); showDriver(message);
}

function percentile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function noteLatency(ms) {
  affect.latencies.push(ms);
  if (affect.latencies.length > 300) affect.latencies.shift();
  $("latency").textContent = `latency p50 ${percentile(affect.latencies, 0.5).toFixed(0)} ms`;
}

// ---- the server's source (/ws/view: [4-byte length][JSON][JPEG] per analysed frame) ---------------------
function unpack(buffer) {
  const n = new DataView(buffer).getUint32(0);
  const message = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  return [message, new Blob([new Uint8Array(buffer, 4 + n)], { type: "image/jpeg" })];
}

function openView() {
  closeSockets();
  socket = new WebSocket(wsUrl("/ws/view"));
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    $("conn").textContent = "connected";
    if (!affect.frames) $("readings").textContent = "waiting for the server's source to start…";
  };
  socket.onclose = () => { $("conn").textContent = "disconnected"; };
  socket.onmessage = async (event) => {
    if (typeof event.data === "string") return onTextMessage(JSON.parse(event.data));
    const [message, blob] = unpack(event.data);
    if (affect.source && message.source !== affect.source) return;
    affect.source = message.source;
    const image = await createImageBitmap(blob);
    drawFrame(image, message); image.close();
    onFrameMessage(message);
    if (message.analysed_at) noteLatency(Math.max(0, Date.now() - message.analysed_at * 1000));
  };
}

function offerReplay(ended) {
  affect.ended = ended;
  if (affect.mode === "server" && (!affect.source || affect.source === ended.source)) {
    const button = $("record");  // nothing more comes from an ended source: no recording to start
    button.disabled = true; button.classList.remove("recording"); button.textContent = "Start recording";
    $("record-status").textContent = "the source has ended";
  }
  if (ended.replay && affect.mode === "server") {
    $("banner-text").textContent = `${ended.source} has ended.`; $("banner").hidden = false;
    $("banner-replay").onclick = () => { setMode("replay", ended.replay); };
  }
}

function onTextMessage(message) {
  if (message.schema !== "realtime-affect/results") return;
  if (message.type === "hello") {
    affect.driver = !!message.driver;
    (message.ended || []).forEach(offerReplay);  // joined after the source finished
  } else if (message.type === "frame") { onFrameMessage(message); }
  else if (message.type === "end") { offerReplay(message); }
  else if (message.type === "error") {
    if (message.recording === "stopped") {  // e.g. a full disk: the analysis goes on, the recording stopped
      $("record").classList.remove("recording"); $("record").textContent = "Start recording";
      $("record-status").textContent = "recording stopped";
    }
    showError(message.message);
  }
}

// ---- the visitor's camera (/ws/camera) ----------------------------------------------------------------
const inFlight = new Map();  // frame id -> [ImageBitmap, sent time]
let nextId = 1, cameraTimer = null;

async function openCamera() {
  closeSockets();
  try {
    cameraStream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: false });
  } catch (err) {
    showError(`the browser gave no camera: ${err.message}`);
    waitForServerSource();  // a kiosk opened before the server's source: take it when it comes
    return;
  }
  const video = $("camera-video");
  video.srcObject = cameraStream; await video.play();
  const grab = document.createElement("canvas");
  cameraSocket = new WebSocket(wsUrl("/ws/camera"));
  cameraSocket.onopen = () => { $("conn").textContent = "camera connected"; };
  cameraSocket.onclose = (e) => { $("conn").textContent = "camera disconnected"; if (e.code === 1009) showError("camera frame too large"); };
  cameraSocket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type !== "frame") return onTextMessage(message);
    const entry = message.client && inFlight.get(message.client.id);
    if (entry) {
      const received = performance.now();
      drawFrame(entry[0], message);
      noteLatency(performance.now() - entry[1]);
      affect.timings.push({ total: performance.now() - entry[1], server: message.client.server_ms,
                            encode: entry[2], waited: received - entry[1] });
      if (affect.timings.length > 300) affect.timings.shift();
      for (const [id, [bitmap]] of inFlight) { if (id <= message.client.id) { bitmap.close(); inFlight.delete(id); } }
    }
    affect.source = message.source;
    onFrameMessage(message);
    send();  // the next frame goes as soon as the answer is in
  };
  let sending = false;
  async function send() {
    if (sending || !cameraSocket || cameraSocket.readyState !== WebSocket.OPEN || !video.videoWidth) return;
    const oldest = inFlight.size ? Math.min(...[...inFlight.values()].map((e) => e[1])) : null;
    if (oldest !== null && performance.now() - oldest < 1000) return;  // one frame in flight: newest wins
    sending = true;
    try { await grabAndSend(); } finally { sending = false; }
  }
  async function grabAndSend() {
    grab.width = video.videoWidth; grab.height = video.videoHeight;
    grab.getContext("2d").drawImage(video, 0, 0);
    const id = nextId++, sent = performance.now();
    const bitmap = await createImageBitmap(grab);
    const jpeg = await new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.8));
    inFlight.set(id, [bitmap, sent, performance.now() - sent]);
    const header = new TextEncoder().encode(JSON.stringify({ id, sent_ms: sent }));
    const prefix = new Uint8Array(4); new DataView(prefix.buffer).setUint32(0, header.length);
    cameraSocket.send(await new Blob([prefix, header, jpeg]).arrayBuffer());
    affect.sentFrames += 1;
  }
  cameraTimer = setInterval(send, 33);  // also on a timer: the first frame, and after a lost answer
}

// A page that has no source to show asks the server every 2 s, and switches to the server's source once
// one has started (a car's screen or a kiosk opened while the server starts).
let sourceTimer = null;
function waitForServerSource() {
  if (sourceTimer) return;
  sourceTimer = setInterval(async () => {
    if (affect.mode !== "camera" || affect.frames) { clearInterval(sourceTimer); sourceTimer = null; return; }
    try {
      const status = await api("/api/status");
      if (status.starting || status.sources.some((s) => !s.startsWith("browser-"))) {
        clearInterval(sourceTimer); sourceTimer = null; setMode("server");
      }
    } catch (err) { /* the server may be starting: ask again */ }
  }, 2000);
}

function closeSockets() {
  if (socket) { socket.onclose = null; socket.close(); socket = null; }
  if (cameraSocket) { cameraSocket.onclose = null; cameraSocket.close(); cameraSocket = null; }
  if (cameraTimer) { clearInterval(cameraTimer); cameraTimer = null; }
  if (cameraStream) { cameraStream.getTracks().forEach((t) => t.stop()); cameraStream = null; }
  for (const [, [bitmap]] of inFlight) bitmap.close();
  inFlight.clear();
}

// ---- recording ---------------------------------------------------------------------------------------
async function api(path, body) {
  const response = await fetch(withToken(path), body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {});
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status}`);
  return data;
}

async function toggleRecording() {
  const button = $("record");
  try {
    if (button.classList.contains("recording")) {
      const done = await api("/api/record", { action: "stop", source: affect.source });
      button.classList.remove("recording"); button.textContent = "Start recording";
      $("record-status").textContent = done.stopped ? `saved ${done.stopped}` : "";
      await loadReplayList();
    } else {
      if (!affect.source) throw new Error("nothing is being analysed yet");
      const started = await api("/api/record", { action: "start", source: affect.source, format: $("record-format").value });
      button.classList.add("recording"); button.textContent = "Stop recording";
      $("record-status").textContent = `recording to ${started.recording.split("/").pop()}`;
    }
  } catch (err) { showError(`recording: ${err.message}`); }
}

// ---- replay ------------------------------------------------------------------------------------------
async function loadReplayList(select) {
  const status = await api("/api/status");
  const list = $("replay-list"); list.innerHTML = "";
  for (const r of status.replays) {
    const o = document.createElement("option"); o.value = r.name; o.textContent = `${r.name} (${r.kind})`; list.appendChild(o);
  }
  if (select) list.value = select;
  return status;
}

function frameAt(frames, t) {
  let lo = 0, hi = frames.length - 1;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (frames[mid].time_s <= t) lo = mid; else hi = mid - 1; }
  return lo;
}

async function openReplay(name) {
  closeSockets();
  const status = await loadReplayList(name);
  name = name || (status.replays.length ? status.replays[status.replays.length - 1].name : null);
  if (!name) { $("readings").textContent = "nothing to replay yet: record, or let a video end"; return; }
  $("replay-list").value = name;
  const data = await api(`/api/replay/${encodeURIComponent(name)}`);
  affect.replay = { name, frames: data.frames.length, index: 0, ready: false };
  const frames = data.frames;
  const track = chosenTrack() ?? (frames.find((f) => f.faces.length)?.faces[0].track_id ?? 0);
  const times = [], series = { expressions: EXPRESSIONS.map(() => []), va: [[], []], aus: AUS.map(() => []) };
  for (const f of frames) {
    for (const face of f.faces) if (!affect.tracks.has(face.track_id)) { affect.tracks.add(face.track_id); }
    const face = f.faces.find((x) => x.track_id === track);
    times.push(f.time_s);
    EXPRESSIONS.forEach((n, i) => series.expressions[i].push(face ? face.expressions[n] : null));
    series.va[0].push(face ? face.valence : null); series.va[1].push(face ? face.arousal : null);
    AUS.forEach((n, i) => series.aus[i].push(face ? face.action_units[n] : null));
  }
  updateTrackList();
  const alpha = Number($("smoothing").value);  // the same smoothing as live, along the file
  const smooth = (values) => { let prev = null; return values.map((v) => (prev = v === null || prev === null || alpha === 0 ? v : alpha * prev + (1 - alpha) * v)); };
  for (const k of ["expressions", "va", "aus"]) plots[k].setAll(times, series[k].map(smooth));
  const video = $("replay-video"), scrub = $("scrub");
  scrub.max = Math.max(0, frames.length - 1); scrub.value = 0;
  const end = times.length ? times[times.length - 1] : 1;
  const show = (index) => {
    const f = frames[index]; if (!f) return;
    affect.replay.index = index; scrub.value = index;
    $("replay-time").textContent = `${f.time_s.toFixed(1)} s`;
    for (const k of ["expressions", "va", "aus"]) plots[k].cursor = f.time_s;
    redrawPlots(times[0] || 0, end);
    showReadings(f);
    if (data.events) {  // a run or recording with the driver monitor: its panel at this frame, and its events
      $("driver-panel").hidden = false;
      if (f.driver) showDriver({ driver: f.driver, time_s: f.time_s }, false);
      listEvents(data.events, f.time_s);
    }
    if (data.video && video.readyState >= 2) {
      drawFrame(video, data.overlays_drawn ? null : { ...f, width: video.videoWidth, height: video.videoHeight });
    } else if (!data.video) {
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, view.width, view.height);
      ctx.fillStyle = "#9aa3ad"; ctx.fillText(`${name}: no video for this file; plots only`, 20, 30);
    }
  };
  let chosen = null;  // the frame the scrub bar asked for (a seek lands on its time, give or take rounding)
  video.onseeked = video.ontimeupdate = () => {
    if (chosen !== null && !video.paused) chosen = null;
    show(chosen !== null ? chosen : frameAt(frames, video.currentTime + 0.002));
  };
  scrub.oninput = () => {
    const f = frames[Number(scrub.value)];
    if (data.video && f) {
      chosen = Number(scrub.value);
      show(chosen);  // readings and plots at once; the picture when the seek lands
      if (video.readyState >= 1) video.currentTime = f.time_s;
    } else show(Number(scrub.value));
  };
  $("replay-play").onclick = () => {
    if (!data.video) return;
    if (video.paused) { chosen = null; video.play(); $("replay-play").textContent = "Pause"; } else { video.pause(); $("replay-play").textContent = "Play"; }
  };
  if (data.video) {
    video.src = withToken(`/api/replay/${encodeURIComponent(name)}/video`);
    video.onloadeddata = () => {
      affect.replay.ready = true;
      if (chosen !== null) video.currentTime = frames[chosen].time_s; else show(0);
    };
  } else { video.removeAttribute("src"); affect.replay.ready = true; show(0); }
}

// ---- modes -------------------------------------------------------------------------------------------
function setMode(mode, replayName) {
  affect.mode = mode; affect.source = null;
  document.querySelectorAll("nav button.mode").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
  $("replay-bar").hidden = mode !== "replay"; $("banner").hidden = true;
  $("record-box").hidden = mode === "replay";
  $("record").disabled = false; $("record-status").textContent = "";
  $("conn").textContent = mode === "replay" ? "replay (no live connection)" : "connecting";
  $("fps").textContent = "analysed – fps"; $("latency").textContent = "latency –"; affect.latencies = [];
  for (const plot of Object.values(plots)) plot.clear();
  smoother.reset(); resetDriver();
  if (mode === "server") openView();
  else if (mode === "camera") openCamera();
  else openReplay(replayName).catch((err) => showError(`replay: ${err.message}`));
}

// Plots are redrawn when new readings came, at most 15 times a second: drawing costs the page's main thread,
// which also grabs and encodes the camera's frames (on a small machine every millisecond there is latency).
function tick(now) {
  if (affect.mode !== "replay" && plotsDirty && now - plotsDrawn > 66) {
    redrawPlots(); plotsDirty = false; plotsDrawn = now;
  }
  requestAnimationFrame(tick);
}

async function start() {
  document.querySelectorAll("nav button.mode").forEach((b) => { b.onclick = () => setMode(b.dataset.mode); });
  $("record").onclick = toggleRecording;
  $("replay-list").onchange = () => openReplay($("replay-list").value);
  $("smoothing").oninput = () => { $("smoothing-value").textContent = Number($("smoothing").value).toFixed(2); };
  $("smoothing").onchange = () => { if (affect.mode === "replay" && affect.replay) openReplay(affect.replay.name); };
  $("track").onchange = () => { for (const plot of Object.values(plots)) plot.clear(); smoother.reset(); };
  let status = { sources: [], browser_camera: false, expressions: [], action_units: [] };
  try { status = await api("/api/status"); } catch (err) { showError(`status: ${err.message}`); }
  EXPRESSIONS = status.expressions; AUS = status.action_units;
  makePlots();
  $("mode-camera").hidden = !status.browser_camera;
  affect.driver = status.driver;
  const wanted = new URLSearchParams(location.search).get("mode");
  const serverSource = status.starting || status.sources.some((s) => !s.startsWith("browser-"));
  setMode(wanted || (serverSource || !status.browser_camera ? "server" : "camera"));
  requestAnimationFrame(tick);
}

start();
