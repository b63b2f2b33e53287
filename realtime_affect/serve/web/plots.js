// Small time-series plots on a canvas (no chart library: nothing to vendor, nothing loaded from outside).
"use strict";

const PALETTE = ["#4fb3ff", "#ff6b6b", "#51cf66", "#fcc419", "#cc5de8", "#ff922b", "#22b8cf", "#adb5bd",
                 "#f06595", "#94d82d", "#845ef7", "#ffd43b"];

class TimePlot {
  // names: series names; range: [min, max] of the y axis; span: seconds shown while live; options.active: draw
  // only the (at most) this many series that reach options.threshold in the window shown (12 AUs over a long
  // clip are a tangle otherwise); the legend says how many are quiet.
  constructor(canvas, names, range, span, options) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.names = names;
    this.range = range;
    this.span = span || 30;
    this.active = (options && options.active) || null;
    this.threshold = (options && options.threshold) || 0;
    this.shown = names.map((_, i) => i);
    this.clear();
  }
  chooseShown(t0) {
    if (!this.active) return this.names.map((_, i) => i);
    const score = this.values.map((series, i) => {
      let peak = -Infinity, sum = 0, n = 0;
      for (let k = 0; k < series.length; k++) {
        const v = series[k];
        if (this.times[k] < t0 || v === null || Number.isNaN(v)) continue;
        peak = Math.max(peak, v); sum += v; n += 1;
      }
      return { i, peak, mean: n ? sum / n : 0 };
    });
    return score.filter((s) => s.peak >= this.threshold).sort((a, b) => b.mean - a.mean)
      .slice(0, this.active).map((s) => s.i).sort((a, b) => a - b);
  }
  clear() { this.times = []; this.values = this.names.map(() => []); this.cursor = null; }
  push(t, values) {
    this.times.push(t);
    values.forEach((v, i) => this.values[i].push(v));
    const drop = this.times.findIndex((x) => x >= t - this.span * 2);
    if (drop > 0) { this.times.splice(0, drop); this.values.forEach((s) => s.splice(0, drop)); }
  }
  setAll(times, values) { this.times = times; this.values = values; }
  points() { return this.times.length; }
  draw(windowStart, windowEnd) {
    const { ctx, canvas } = this;
    const w = canvas.width, h = canvas.height, left = 34, right = 96, top = 6, bottom = 16;
    const pw = w - left - right, ph = h - top - bottom;
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#333a44"; ctx.fillStyle = "#9aa3ad"; ctx.lineWidth = 1;
    const [lo, hi] = this.range;
    const y = (v) => top + ph - ((v - lo) / (hi - lo)) * ph;
    for (const v of [lo, (lo + hi) / 2, hi]) {
      ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(left + pw, y(v)); ctx.stroke();
      ctx.fillText(v.toFixed(1), 2, y(v) + 4);
    }
    // live: the newest ``span`` seconds, filling from the left until that much has been seen
    const first = this.times.length ? this.times[0] : 0, last = this.times.length ? this.times[this.times.length - 1] : 0;
    const t0 = windowStart !== undefined ? windowStart : Math.max(first, last - this.span);
    const t1 = windowEnd !== undefined ? windowEnd : Math.max(t0 + this.span, last);
    const x = (t) => left + ((t - t0) / Math.max(t1 - t0, 1e-6)) * pw;
    ctx.fillText(`${t0.toFixed(0)} s`, left, h - 3);
    ctx.fillText(`${t1.toFixed(0)} s`, left + pw - 24, h - 3);
    this.shown = this.chooseShown(t0);
    const rows = this.active ? this.active + 1 : this.names.length;
    this.shown.forEach((i, row) => {
      const series = this.values[i];
      ctx.strokeStyle = PALETTE[i % PALETTE.length]; ctx.lineWidth = 1.5; ctx.beginPath();
      let started = false;
      for (let k = 0; k < series.length; k++) {
        const t = this.times[k], v = series[k];
        if (t < t0 || v === null || Number.isNaN(v)) { started = false; continue; }
        if (!started) { ctx.moveTo(x(t), y(v)); started = true; } else { ctx.lineTo(x(t), y(v)); }
      }
      ctx.stroke();
      let at = series.length - 1;  // the legend shows the value at the cursor (replay), else the newest
      if (this.cursor !== null) { at = this.times.findIndex((t) => t >= this.cursor); if (at < 0) at = series.length - 1; }
      const last = at >= 0 ? series[at] : null;
      ctx.fillStyle = PALETTE[i % PALETTE.length];
      ctx.fillText(`${this.names[i]}${last === null || last === undefined ? "" : " " + last.toFixed(2)}`,
                   left + pw + 6, top + 10 + row * Math.min(13, (ph + bottom) / rows));
    });
    if (this.active && this.shown.length < this.names.length) {
      ctx.fillStyle = "#9aa3ad";
      ctx.fillText(`${this.names.length - this.shown.length} quiet (< ${this.threshold.toFixed(1)})`, left + pw + 6,
                   top + 10 + this.shown.length * Math.min(13, (ph + bottom) / rows));
    }
    if (this.cursor !== null) {
      ctx.strokeStyle = "#ffffff"; ctx.beginPath(); ctx.moveTo(x(this.cursor), top); ctx.lineTo(x(this.cursor), top + ph);
      ctx.stroke();
    }
  }
}

// Exponential smoothing per track and series: alpha 0 shows the raw readings.
class Smoother {
  constructor() { this.state = new Map(); }
  apply(key, values, alpha) {
    const prev = this.state.get(key);
    const out = prev && alpha > 0 ? values.map((v, i) => (v === null || prev[i] === null ? v : alpha * prev[i] + (1 - alpha) * v)) : values.slice();
    this.state.set(key, out);
    return out;
  }
  reset() { this.state.clear(); }
}

window.TimePlot = TimePlot;
window.Smoother = Smoother;
window.PALETTE = PALETTE;
