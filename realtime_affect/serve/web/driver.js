// The driver monitor's panel (with --driver): the alarm banner, the signals, and the event log, live or for a
// finished run in Replay. Loaded before app.js, whose $ helper it uses when called.
"use strict";

// the most urgent first (as the desktop dashboard's border), and each event's colour
const URGENCY = ["sleep", "unresponsive", "microsleep", "drowsy", "distracted", "distracted_vats", "eyes_unavailable",
                 "yawning", "agitated"];
const EVENT_COLOURS = { sleep: "#d00000", microsleep: "#d00000", unresponsive: "#d00000", drowsy: "#d00000",
                        distracted: "#e07800", distracted_vats: "#e07800", yawning: "#e0a800",
                        eyes_unavailable: "#707070", agitated: "#b000c8" };
const driverLog = { open: new Map(), entries: [] };
const rank = (kind) => { const i = URGENCY.indexOf(kind); return i < 0 ? URGENCY.length : i; };
const eventName = (kind) => kind.replace("_", " ").toUpperCase();

function showDriver(message, live = true) {
  const d = message.driver;
  if (!d) return;
  $("driver-panel").hidden = false;
  const active = [...(d.active || [])].sort((a, b) => rank(a) - rank(b));
  const alarm = $("driver-alarm");
  alarm.hidden = !active.length;
  if (active.length) {
    alarm.textContent = active.map(eventName).join("  ·  ");
    alarm.style.background = EVENT_COLOURS[active[0]] || "#d00000";
  }
  const num = (v, digits) => (v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits));
  $("driver-signals").textContent = `eyes ${(d.eye_state || "unknown").toUpperCase()} · looking ${d.zone || "unknown"}`
    + ` · PERCLOS ${num(100 * (d.perclos ?? NaN), 0)}% · ${num(d.blinks_per_min, 0)} blinks/min`
    + (d.closure_s > 0 ? ` · eyes closed ${d.closure_s.toFixed(1)} s` : "");
  if (live) logEvents(active, d.active_since || {}, message.time_s);
}

// Replay: the finished run's events, all at once (the newest first), the ones on at the cursor in bold.
function listEvents(events, t) {
  const list = $("driver-log");
  list.innerHTML = "";
  if (!events.length) { list.innerHTML = '<li class="quiet">none</li>'; return; }
  for (const e of [...events].reverse()) {
    const li = document.createElement("li");
    li.textContent = `${e.start_s.toFixed(1)} s  ${eventName(e.kind)}  ` + (e.end_s === null ? "to the end" : `to ${e.end_s.toFixed(1)} s`);
    li.style.borderLeft = `6px solid ${EVENT_COLOURS[e.kind] || "#d00000"}`; li.style.paddingLeft = "0.4em";
    if (t >= e.start_s && (e.end_s === null || t < e.end_s)) li.className = "ongoing";
    list.appendChild(li);
  }
}

function resetDriver() {
  driverLog.open.clear(); driverLog.entries = [];
  $("driver-panel").hidden = true; $("driver-alarm").hidden = true;
  $("driver-log").innerHTML = '<li class="quiet">none yet</li>';
}

function logEvents(active, since, t) {
  let changed = false;
  for (const kind of active) {
    if (!driverLog.open.has(kind)) {
      const entry = { kind, start: since[kind] ?? t, end: null };
      driverLog.open.set(kind, entry); driverLog.entries.push(entry); changed = true;
    }
  }
  for (const [kind, entry] of driverLog.open) {
    if (!active.includes(kind)) { entry.end = t; driverLog.open.delete(kind); changed = true; }
  }
  if (!changed) return;
  const list = $("driver-log");
  list.innerHTML = "";
  for (const e of [...driverLog.entries].reverse()) {  // the newest first
    const li = document.createElement("li");
    li.textContent = `${e.start.toFixed(1)} s  ${eventName(e.kind)}  ` + (e.end === null ? "now" : `to ${e.end.toFixed(1)} s`);
    li.style.borderLeft = `6px solid ${EVENT_COLOURS[e.kind] || "#d00000"}`; li.style.paddingLeft = "0.4em";
    if (e.end === null) li.className = "ongoing";
    list.appendChild(li);
  }
}

