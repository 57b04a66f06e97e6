// The status dashboard: polls dashboard/status (same origin only) and draws it.
// No library, no external request; the API key (if the proxy has keys) lives in
// sessionStorage and travels only as an Authorization header to this proxy.
"use strict";
(() => {
  const KEY_SLOT = "claude-max-api.dashboard-key";
  const POLL_MS = 5000;
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  let last = null;       // the last status received
  let skew = 0;          // server clock minus ours (s), for the countdowns
  let timer = null;

  const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
  const fmtTokens = (n) => n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : fmtInt(n);
  const fmtSeconds = (s) => s == null ? "–" : s < 1 ? Math.round(s * 1000) + " ms" : s.toFixed(2) + " s";

  function fmtDuration(s) {
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    const m = Math.floor(s % 3600 / 60), sec = s % 60;
    const pad = (x) => String(x).padStart(2, "0");
    if (d) return `${d}d ${h}h ${pad(m)}m`;
    if (h) return `${h}h ${pad(m)}m ${pad(sec)}s`;
    return `${m}m ${pad(sec)}s`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  function text(id, value) { $(id).textContent = value; }

  // --- charts -------------------------------------------------------------------------------

  function gridLines(chart, max, unit) {
    for (const f of [0.5, 1]) {
      const y = 130 - f * 120;
      chart.append(svg("line", { x1: 0, x2: 600, y1: y, y2: y, class: "grid" }));
      const label = svg("text", { x: 2, y: y - 2 });
      label.textContent = unit(max * f);
      chart.append(label);
    }
    chart.append(svg("line", { x1: 0, x2: 600, y1: 130, y2: 130, class: "grid" }));
  }

  function drawRequests(req) {
    const chart = $("chart-requests");
    chart.replaceChildren();
    const n = req.ok.length, w = 600 / n;
    const max = Math.max(1, ...req.ok.map((v, i) => v + req.error[i]));
    gridLines(chart, max, (v) => fmtInt(v) + "/min");
    req.ok.forEach((ok, i) => {
      const err = req.error[i];
      const hOk = ok / max * 120, hErr = err / max * 120;
      if (ok) chart.append(svg("rect", { x: i * w + 1, width: w - 2, y: 130 - hOk, height: hOk, class: "bar-ok", "data-count": ok }));
      if (err) chart.append(svg("rect", { x: i * w + 1, width: w - 2, y: 130 - hOk - hErr, height: hErr, class: "bar-error", "data-count": err }));
    });
    text("req-total-1h", fmtInt(req.total_1h));
    text("req-total-24h", fmtInt(req.total_24h));
  }

  function drawTtft(ttft) {
    const chart = $("chart-ttft");
    chart.replaceChildren();
    const n = ttft.avg.length, w = 600 / n;
    const values = ttft.max.filter((v) => v != null);
    const max = Math.max(0.5, ...values);
    gridLines(chart, max, fmtSeconds);
    let path = "";
    ttft.avg.forEach((v, i) => {
      if (v == null) return;
      const x = i * w + w / 2, y = 130 - v / max * 120;
      path += (path ? " L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
      chart.append(svg("circle", { cx: x, cy: y, r: 2.5, class: "dot-avg bar-ok", "data-seconds": v }));
    });
    if (path) chart.append(svg("path", { d: path, class: "line-avg" }));
    ttft.max.forEach((v, i) => {
      if (v == null) return;
      chart.append(svg("circle", { cx: i * w + w / 2, cy: 130 - v / max * 120, r: 2, class: "dot-max" }));
    });
    text("ttft-count", fmtInt(ttft.count_1h));
    const lastAvg = [...ttft.avg].reverse().find((v) => v != null);
    text("ttft-last", fmtSeconds(lastAvg));
  }

  function drawBars(id, rows, empty) {
    const box = $(id);
    box.replaceChildren();
    if (!rows.length) { box.append(el("p", { class: "empty" }, empty)); return; }
    const kinds = ["input", "output", "cache_read"];
    const max = Math.max(1, ...rows.map((r) => kinds.reduce((s, k) => s + r[k], 0)));
    for (const r of rows) {
      const total = kinds.reduce((s, k) => s + r[k], 0);
      const track = el("div", { class: "track" });
      for (const k of kinds) {
        if (!r[k]) continue;
        const seg = el("div", { class: "seg-" + k, title: `${k.replace("_", " ")}: ${fmtInt(r[k])}` });
        seg.style.width = (r[k] / max * 100).toFixed(2) + "%";
        track.append(seg);
      }
      const name = r.id == null ? "(no API keys)" : r.id;
      const detail = `${fmtTokens(r.input)} in · ${fmtTokens(r.output)} out · ${fmtTokens(r.cache_read)} cache`;
      box.append(el("div", { class: "row", "data-id": name, "data-total": total },
        el("div", { class: "label" }, el("span", { title: name }, name), el("span", {}, detail)), track));
    }
  }

  // --- rate limits, errors, the rest --------------------------------------------------------

  function drawLimits(rl) {
    const list = $("limits");
    list.replaceChildren();
    for (const e of rl.events) {
      const li = el("li", { "data-window": e.window },
        el("b", {}, e.window.replace(/_/g, " ")), " ",
        el("span", { class: "status-" + (e.status || "unknown") }, e.status || "?"));
      if (e.utilization != null) li.append(` · ${Math.round(e.utilization * 100)} % used`);
      if (e.resets_at != null) {
        li.append(" · resets in ", el("span", { class: "countdown", "data-at": e.resets_at }, "–"));
      }
      list.append(li);
    }
    const up = rl.last_upstream_error;
    if (up) {
      const at = Date.parse(up.at) / 1000;
      const li = el("li", { "data-window": "upstream" }, el("b", {}, `upstream ${up.status}`), ` at ${up.at}`);
      if (up.retry_after != null) {
        li.append(" · retry in ", el("span", { class: "countdown", "data-at": at + up.retry_after }, "–"));
      }
      list.append(li);
    }
    if (!list.children.length) list.append(el("li", { class: "empty" }, "No rate-limit report from the CLI yet."));
    tick();
  }

  function tick() {
    const now = Date.now() / 1000 + skew;
    for (const node of document.querySelectorAll(".countdown")) {
      const left = Number(node.dataset.at) - now;
      node.textContent = left > 0 ? fmtDuration(left) : "now (reset)";
    }
    if (last) text("uptime", fmtDuration(last.uptime_seconds + (Date.now() / 1000 - last._received)));
  }

  function drawErrors(errors) {
    const body = $("errors-by-type").tBodies[0];
    body.replaceChildren();
    const hour = Object.fromEntries(errors.by_type_1h.map((e) => [e.code, e.count]));
    for (const e of errors.by_type_24h) {
      body.append(el("tr", { "data-code": e.code }, el("td", {}, e.code),
        el("td", {}, fmtInt(hour[e.code] || 0)), el("td", {}, fmtInt(e.count))));
    }
    if (!errors.by_type_24h.length) body.append(el("tr", {}, el("td", { colspan: "3", class: "empty" }, "No errors in 24 h.")));
    const list = $("errors-recent");
    list.replaceChildren();
    for (const e of errors.recent.slice(0, 8)) {
      const when = new Date(e.at * 1000).toLocaleTimeString();
      list.append(el("li", {}, `${when} · ${e.status} `, el("b", {}, e.code), ` · ${e.route}`));
    }
    if (!errors.recent.length) list.append(el("li", { class: "empty" }, "None."));
  }

  function draw(s) {
    s._received = Date.now() / 1000;
    skew = s.now - s._received;
    last = s;
    const pill = $("status");
    pill.dataset.state = s.status;
    pill.textContent = s.status;
    text("version", s.version);
    text("cli-found", s.cli.found ? "yes" : "no (chat requests get 503)");
    text("cli-version", s.cli.version || "–");
    const login = s.cli.login;
    text("cli-login", login.state + (login.detail ? ` (${login.detail})` : ""));
    const p = s.processes;
    text("proc-active", p.active); text("proc-queued", p.queued);
    text("proc-warm", p.warm); text("proc-parked", p.parked);
    text("proc-total", p.processes); text("proc-max", p.max_concurrency); text("proc-max-queue", p.max_queue);
    drawRequests(s.requests);
    drawTtft(s.ttft);
    drawBars("tokens-model", s.tokens.by_model, "No tokens in 24 h.");
    drawBars("tokens-key", s.tokens.by_key, "No tokens in 24 h.");
    drawLimits(s.rate_limits);
    drawErrors(s.errors);
    $("models").replaceChildren(...s.models.map((id) => el("li", {}, id)));
    text("updated", "updated " + new Date().toLocaleTimeString());
    document.body.dataset.loaded = "true";
  }

  // --- polling and the key ------------------------------------------------------------------

  function showLogin(message) {
    $("board").hidden = true;
    $("login").hidden = false;
    $("logout").hidden = true;
    text("login-error", message || "");
    $("key").focus();
  }

  async function poll() {
    clearTimeout(timer);
    const key = sessionStorage.getItem(KEY_SLOT);
    const headers = { Accept: "application/json" };
    if (key) headers.Authorization = "Bearer " + key;
    try {
      const r = await fetch("dashboard/status", { headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
      if (r.status === 401) {
        const had = key != null;
        sessionStorage.removeItem(KEY_SLOT);
        showLogin(had ? "That key was not accepted." : "");
        return;  // no polling until a key is given
      }
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      draw(await r.json());
      $("login").hidden = true;
      $("board").hidden = false;
      $("logout").hidden = !key;
    } catch (err) {
      const pill = $("status");
      pill.dataset.state = "unreachable";
      pill.textContent = "unreachable";
      text("updated", String(err.message || err));
    }
    timer = setTimeout(poll, POLL_MS);
  }

  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("key").value.trim();
    $("key").value = "";
    if (!key) return;
    sessionStorage.setItem(KEY_SLOT, key);
    poll();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_SLOT);
    clearTimeout(timer);
    showLogin("");
  });
  setInterval(tick, 1000);
  poll();
})();
