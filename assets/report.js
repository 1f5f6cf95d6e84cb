// heavyball's report viewer: every curve of a sweep on one canvas, with hover, toggles by M, α
// and γ, and a log or linear axis. Self-contained: no library, no network.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const canvas = document.getElementById("canvas");
  const tooltip = document.getElementById("tooltip");
  const status = document.getElementById("status");
  const controls = document.getElementById("controls");
  // One colour per method, by its α, the same as in the report's figures (heavyball computes it).
  const colorOf = (a) => data.colors[data.alpha.indexOf(a)] || "#000000";
  const margin = { left: 72, right: 18, top: 14, bottom: 42 };
  const state = {
    log: true,
    metric: "train",
    hidden: new Set(data.hidden),
    alpha: new Set(data.alpha),
    gamma: new Set(data.gamma),
    hover: -1,
  };
  // Per run, the screen positions of its points (CSS pixels), or null when not drawn.
  let screen = [];
  let frame = null;

  const visible = (r) => state.hidden.has(r.m) && state.alpha.has(r.alpha) && state.gamma.has(r.gamma);
  const series = (r) => (state.metric === "test" && r.test ? r.test : r.train);
  const usable = (v) => v !== null && isFinite(v) && (!state.log || v > 0);

  // Numbers as people write them: 3 significant digits, plain between 1e-3 and 1e5.
  function fmt(v) {
    if (v === 0) return "0";
    if (!isFinite(v)) return String(v);
    const r = Number(v.toPrecision(3));
    const e = Math.floor(Math.log10(Math.abs(r)));
    if (e >= -3 && e < 5) return String(r);
    const [m, x] = r.toExponential(2).split("e");
    return m.replace(/\.?0+$/, "") + "e" + Number(x);
  }

  function linearTicks(lo, hi) {
    const raw = (hi - lo) / 6;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) || raw;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
    return out;
  }

  function logTicks(lo, hi) {
    const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    const every = Math.max(1, Math.ceil((b - a) / 8));
    const out = [];
    for (let e = a; e <= b; e += every) {
      const t = Math.pow(10, e);
      if (t >= lo && t <= hi) out.push(t);
    }
    return out.length ? out : [lo, hi];
  }

  function bounds() {
    let lo = Infinity, hi = -Infinity, xmax = 1;
    for (const r of data.runs) {
      if (!visible(r)) continue;
      const ys = series(r);
      for (let i = 0; i < ys.length; i++) {
        const v = ys[i];
        if (!usable(v) || Math.abs(v) > 1e100) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      xmax = Math.max(xmax, r.it[r.it.length - 1] || 0);
    }
    if (!isFinite(lo)) { lo = state.log ? 1e-3 : 0; hi = 1; }
    if (hi <= lo) hi = state.log ? lo * 10 : lo + 1;
    if (state.log) { lo /= 1.3; hi *= 1.3; } else { const pad = (hi - lo) * 0.04; lo -= pad; hi += pad; }
    return { lo, hi, xmax };
  }

  function draw() {
    frame = null;
    const dpr = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const { lo, hi, xmax } = bounds();
    const pw = width - margin.left - margin.right, ph = height - margin.top - margin.bottom;
    const X = (x) => margin.left + (x / xmax) * pw;
    const Y = state.log
      ? (y) => margin.top + (1 - (Math.log(y) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * ph
      : (y) => margin.top + (1 - (y - lo) / (hi - lo)) * ph;

    // Axes, grid and tick labels.
    ctx.font = "12px sans-serif";
    ctx.strokeStyle = "#dddddd";
    ctx.fillStyle = "#333333";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const yTicks = state.log ? logTicks(lo, hi) : linearTicks(lo, hi);
    for (const t of yTicks) {
      const y = Y(t);
      ctx.beginPath(); ctx.moveTo(margin.left, y); ctx.lineTo(width - margin.right, y); ctx.stroke();
      ctx.fillText(fmt(t), margin.left - 6, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of linearTicks(0, xmax)) {
      const x = X(t);
      ctx.beginPath(); ctx.moveTo(x, margin.top); ctx.lineTo(x, height - margin.bottom); ctx.stroke();
      ctx.fillText(fmt(t), x, height - margin.bottom + 6);
    }
    ctx.fillText("iteration", margin.left + pw / 2, height - 16);
    ctx.save();
    ctx.translate(14, margin.top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText((state.metric === "test" ? "test loss" : "training loss") + (state.log ? " (log scale)" : ""), 0, 0);
    ctx.restore();
    canvas.dataset.yTicks = yTicks.map(fmt).join(" ");

    // The curves: hovered last, on top.
    let shown = 0;
    screen = data.runs.map(() => null);
    const order = data.runs.map((_, i) => i).filter((i) => i !== state.hover);
    if (state.hover >= 0) order.push(state.hover);
    ctx.save();
    ctx.beginPath();
    ctx.rect(margin.left, margin.top, pw, ph);
    ctx.clip();
    for (const i of order) {
      const r = data.runs[i];
      if (!visible(r)) continue;
      shown += i === state.hover ? 0 : 1;
      const ys = series(r);
      const pts = new Float32Array(ys.length * 2).fill(NaN);
      ctx.beginPath();
      let pen = false;
      for (let k = 0; k < ys.length; k++) {
        if (!usable(ys[k])) { pen = false; continue; }
        const x = X(r.it[k]), y = Y(Math.min(ys[k], 1e100));
        pts[2 * k] = x; pts[2 * k + 1] = y;
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      }
      screen[i] = pts;
      ctx.strokeStyle = colorOf(r.alpha);
      ctx.globalAlpha = i === state.hover ? 1 : state.hover >= 0 ? 0.25 : 0.7;
      ctx.lineWidth = i === state.hover ? 3 : r.alpha >= 1 ? 1.6 : 1.1;
      ctx.setLineDash(r.alpha >= 1 ? [] : [6, 3]);
      ctx.stroke();
    }
    ctx.restore();
    if (state.hover >= 0 && visible(data.runs[state.hover])) shown += 1;
    status.textContent = "Showing " + shown + " of " + data.runs.length + " runs.";
    status.dataset.shown = String(shown);
  }

  function redraw() {
    if (frame === null) frame = requestAnimationFrame(draw);
  }

  // The nearest drawn point within 12 pixels of (x, y), as [run, point].
  function nearest(x, y) {
    let best = -1, bestK = -1, bestD = 144;
    for (let i = 0; i < screen.length; i++) {
      const pts = screen[i];
      if (!pts) continue;
      for (let k = 0; k < pts.length; k += 2) {
        const dx = pts[k] - x, dy = pts[k + 1] - y, d = dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = i; bestK = k / 2; }
      }
    }
    return [best, bestK];
  }

  function hover(event) {
    const box = canvas.getBoundingClientRect();
    const [i, k] = nearest(event.clientX - box.left, event.clientY - box.top);
    if (i < 0) {
      tooltip.hidden = true;
      if (state.hover !== -1) { state.hover = -1; draw(); }
      return;
    }
    const r = data.runs[i];
    const v = series(r)[k];
    tooltip.innerHTML = "";
    const lines = [
      ["run", r.name],
      ["M", r.m], ["γ", fmt(r.gamma)], ["α", fmt(r.alpha) + (r.alpha >= 1 ? " (plain GD)" : "")], ["seed", r.seed],
      ["iteration", r.it[k]],
      [state.metric === "test" ? "test loss" : "training loss", v === null ? "–" : Number(v).toPrecision(5)],
    ];
    if (r.diverged) lines.push(["status", "diverged"]);
    for (const [key, value] of lines) {
      const row = document.createElement("div");
      row.dataset.key = key;
      const b = document.createElement("b");
      b.textContent = key + ": ";
      row.appendChild(b);
      row.appendChild(document.createTextNode(String(value)));
      tooltip.appendChild(row);
    }
    tooltip.hidden = false;
    tooltip.style.left = Math.min(event.clientX - box.left + 14, box.width - 260) + "px";
    tooltip.style.top = event.clientY - box.top + 14 + "px";
    if (state.hover !== i) { state.hover = i; draw(); }
  }

  function group(title, key, values, label) {
    const set = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = title;
    set.appendChild(legend);
    values.forEach((v) => {
      const item = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = true;
      box.dataset.group = key;
      box.value = String(v);
      box.addEventListener("change", () => {
        if (box.checked) state[key].add(v); else state[key].delete(v);
        state.hover = -1;
        tooltip.hidden = true;
        redraw();
      });
      item.appendChild(box);
      if (key === "alpha") {
        const swatch = document.createElement("span");
        swatch.className = "swatch" + (v >= 1 ? "" : " dashed");
        swatch.style.borderColor = colorOf(v);
        item.appendChild(swatch);
      }
      item.appendChild(document.createTextNode(label(v)));
      set.appendChild(item);
    });
    controls.appendChild(set);
  }

  group("width M", "hidden", data.hidden, (m) => "M = " + m);
  group("α (1 = plain GD)", "alpha", data.alpha, (a) => "α = " + fmt(a));
  group("step size γ", "gamma", data.gamma, (g) => "γ = " + fmt(g));
  const view = document.createElement("fieldset");
  view.innerHTML = "<legend>view</legend>";
  const scale = document.createElement("label");
  scale.innerHTML = '<input type="checkbox" id="log" checked> log scale';
  view.appendChild(scale);
  if (data.test) {
    const metric = document.createElement("label");
    metric.innerHTML =
      '<select id="metric"><option value="train">training loss</option><option value="test">test loss</option></select>';
    view.appendChild(metric);
  }
  controls.appendChild(view);
  document.getElementById("log").addEventListener("change", (e) => { state.log = e.target.checked; redraw(); });
  const metric = document.getElementById("metric");
  if (metric) metric.addEventListener("change", (e) => { state.metric = e.target.value; redraw(); });
  canvas.addEventListener("mousemove", hover);
  canvas.addEventListener("mouseleave", () => {
    tooltip.hidden = true;
    if (state.hover !== -1) { state.hover = -1; draw(); }
  });
  window.addEventListener("resize", redraw);
  draw();

  // Draws now what a toggle scheduled for the next frame.
  function flush() {
    if (frame !== null) { cancelAnimationFrame(frame); draw(); }
  }

  // For scripts and tests: where a run's k-th point is drawn (viewport pixels), and the state.
  window.heavyball = {
    locate(name, k) {
      flush();
      const i = data.runs.findIndex((r) => r.name === name);
      const pts = i >= 0 ? screen[i] : null;
      if (!pts || !isFinite(pts[2 * k])) return null;
      const box = canvas.getBoundingClientRect();
      return { x: box.left + pts[2 * k], y: box.top + pts[2 * k + 1] };
    },
    state() {
      flush();
      return {
        log: state.log,
        metric: state.metric,
        shown: Number(status.dataset.shown),
        runs: data.runs.length,
        hover: state.hover >= 0 ? data.runs[state.hover].name : null,
        yTicks: canvas.dataset.yTicks,
      };
    },
    runs() {
      return data.runs.map((r) => ({ name: r.name, m: r.m, gamma: r.gamma, alpha: r.alpha, seed: r.seed, points: r.it.length }));
    },
    draw,
  };
})();
