// The WAASP dashboard: vanilla JS, no build step. Every figure comes from the token-protected
// JSON API; text from the server is only ever set with textContent, never as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "waasp_token";
  const REFRESH_MS = 2000;
  const DLQ_PAGE = 20;
  const SVG_NS = "http://www.w3.org/2000/svg";

  let dlqOffset = 0;
  let timer = null;
  let busy = false;
  const openFailures = new Set();

  const $ = (id) => document.getElementById(id);

  // -- the token: sessionStorage for the API calls, a cookie so a reload of /dashboard passes

  function cookieToken() {
    for (const part of document.cookie.split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (name === TOKEN_KEY) return decodeURIComponent(rest.join("="));
    }
    return "";
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || cookieToken();
  }

  function setToken(value) {
    sessionStorage.setItem(TOKEN_KEY, value);
    document.cookie = `${TOKEN_KEY}=${encodeURIComponent(value)}; path=/; SameSite=Strict`;
  }

  function clearToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    document.cookie = `${TOKEN_KEY}=; path=/; Max-Age=0; SameSite=Strict`;
  }

  // -- the API ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, method = "GET") {
    const response = await fetch(path, {
      method,
      cache: "no-store",
      headers: { Authorization: `Bearer ${token()}`, Accept: "application/json" },
    });
    if (response.status === 204) return null;
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const message = body && typeof body.error === "string" ? body.error : response.statusText;
      throw new ApiError(response.status, message);
    }
    return body;
  }

  // -- small DOM helpers -----------------------------------------------------------------

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function cell(value, className) {
    if (value instanceof Node) {
      const td = el("td", null, className);
      td.append(value);
      return td;
    }
    return el("td", value === null || value === undefined ? "–" : value, className);
  }

  function fillTable(id, rows, toCells, rowData) {
    const tbody = $(id).tBodies[0];
    const columns = $(id).tHead.rows[0].cells.length;
    if (!rows.length) {
      const empty = el("td", "none", "empty");
      empty.colSpan = columns;
      const tr = el("tr");
      tr.append(empty);
      tbody.replaceChildren(tr);
      return;
    }
    tbody.replaceChildren(
      ...rows.map((row) => {
        const tr = el("tr");
        if (rowData) Object.assign(tr.dataset, rowData(row));
        tr.append(...toCells(row));
        return tr;
      }),
    );
  }

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    if (value < 60) return `${value.toFixed(1)} s`;
    if (value < 3600) return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
    return `${(value / 3600).toFixed(1)} h`;
  }

  function when(value) {
    if (!value) return "–";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
  }

  function errorText(error) {
    return error ? `${error.type}: ${error.message}` : "–";
  }

  // -- rendering -------------------------------------------------------------------------

  function renderQueues(queues) {
    fillTable(
      "queues",
      queues,
      (q) => [
        cell(q.name, "name"),
        cell(q.waiting, "waiting"),
        cell(q.in_flight, "in-flight"),
        cell(q.delayed, "delayed"),
        cell(q.dead, "dead"),
        cell(seconds(q.oldest_waiting_age), "age"),
        cell(q.consumers, "consumers"),
      ],
      (q) => ({ queue: q.name }),
    );
  }

  function renderWorkers(workers) {
    fillTable(
      "workers",
      workers,
      (w) => [
        cell(w.name),
        cell((w.queues || []).join(", ")),
        cell(w.concurrency),
        cell(w.in_flight),
        cell(when(w.last_heartbeat)),
        cell(w.done),
        cell(w.failed),
        cell(w.retried),
        cell(w.stalled ? "stalled" : "working", w.stalled ? "bad" : "ok"),
      ],
      (w) => ({ worker: w.name }),
    );
  }

  function actionButton(label, className, action) {
    const button = el("button", label, className);
    button.type = "button";
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await action();
      } catch (err) {
        showBanner(`${label} failed: ${err.message}`);
      }
      await refresh();
    });
    return button;
  }

  function renderDeadLetters(page) {
    const total = page.total;
    $("dlq-total").textContent = `(${total})`;
    const first = total ? page.offset + 1 : 0;
    const last = page.offset + page.dead_letters.length;
    $("dlq-page").textContent = `${first}–${last} of ${total}`;
    $("dlq-newer").disabled = page.offset === 0;
    $("dlq-older").disabled = last >= total;
    fillTable(
      "dlq",
      page.dead_letters,
      (letter) => {
        const path = `/api/v1/dlq/${encodeURIComponent(letter.id)}`;
        const actions = el("span", null, "actions");
        actions.append(
          actionButton("Replay", "replay", () => api(`${path}/replay`, "POST")),
          actionButton("Delete", "delete", async () => {
            if (window.confirm(`Delete dead letter ${letter.id}?`)) await api(path, "DELETE");
          }),
        );
        return [
          cell(letter.id, "id"),
          cell(letter.task || "(undecodable)"),
          cell(letter.reason),
          cell(errorText(letter.error), "error"),
          cell(when(letter.failed_at)),
          cell(letter.retries),
          cell(actions),
        ];
      },
      (letter) => ({ id: letter.id }),
    );
  }

  function renderFailures(failures) {
    const box = $("failures");
    if (!failures.length) {
      box.replaceChildren(el("p", "none", "empty"));
      return;
    }
    box.replaceChildren(
      ...failures.map((f) => {
        const key = `${f.time}:${f.id}`;
        const details = el("details", null, "failure");
        details.open = openFailures.has(key);
        details.addEventListener("toggle", () => {
          if (details.open) openFailures.add(key);
          else openFailures.delete(key);
        });
        const summary = el("summary");
        summary.append(
          el("time", when(f.time)),
          el("strong", ` ${f.task} `),
          el("span", `${f.event} (${f.reason || "?"}) — ${errorText(f.error)}`, "error"),
        );
        const traceback = f.error && f.error.traceback ? f.error.traceback : "(no traceback)";
        details.append(summary, el("p", `task id ${f.id || "–"}`, "meta"), el("pre", traceback));
        return details;
      }),
    );
  }

  function renderSchedule(entries) {
    fillTable("schedule", entries, (e) => [
      cell(e.name),
      cell(e.task),
      cell(e.schedule),
      cell(e.queue),
      cell(when(e.next_run)),
      cell(when(e.last_run)),
    ]);
  }

  function renderTasks(tasks) {
    const names = Object.keys(tasks).sort();
    fillTable("tasks", names, (name) => {
      const c = tasks[name];
      return [
        cell(name),
        cell(c.started || 0),
        cell(c.succeeded || 0),
        cell(c.retried || 0),
        cell(c.failed || 0),
        cell(c.dead_lettered || 0),
      ];
    });
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderChart(throughput) {
    const chart = $("chart");
    const buckets = throughput.buckets;
    const width = Math.max(Math.round(chart.getBoundingClientRect().width), 300);
    const height = 140;
    chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const bottom = height - 18;
    const barWidth = width / Math.max(buckets.length, 1);
    const totals = buckets.map((b) => b.succeeded + b.retried + b.failed + b.dead_lettered);
    const peak = Math.max(1, ...totals);
    const nodes = [svg("line", { x1: 0, y1: bottom, x2: width, y2: bottom, class: "axis" })];
    buckets.forEach((b, i) => {
      let y = bottom;
      const parts = [
        ["ok", b.succeeded],
        ["retry", b.retried],
        ["bad", b.failed + b.dead_lettered],
      ];
      for (const [kind, count] of parts) {
        if (!count) continue;
        const h = ((bottom - 14) * count) / peak;
        y -= h;
        const bar = svg("rect", {
          x: (i * barWidth + 1).toFixed(1),
          y: y.toFixed(1),
          width: Math.max(barWidth - 2, 1).toFixed(1),
          height: h.toFixed(1),
          class: kind,
        });
        bar.append(svg("title", {}, `${when(b.time)}: ${count} ${kind}`));
        nodes.push(bar);
      }
    });
    const rate = (peak / throughput.bucket_seconds).toFixed(1);
    nodes.push(svg("text", { x: 2, y: 11, class: "label" }, `peak ${peak} (${rate}/s)`));
    if (buckets.length) {
      nodes.push(svg("text", { x: 2, y: height - 4, class: "label" }, when(buckets[0].time)));
      const end = svg("text", { x: width - 2, y: height - 4, class: "label end" }, "now");
      nodes.push(end);
    }
    chart.replaceChildren(...nodes);
  }

  // -- states of the page ----------------------------------------------------------------

  function showLogin(message) {
    stop();
    $("data").hidden = true;
    $("banner").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("status").textContent = "";
    $("token").focus();
  }

  function showBanner(message) {
    const banner = $("banner");
    banner.textContent = message;
    banner.hidden = false;
  }

  function showData() {
    $("banner").hidden = true;
    $("login").hidden = true;
    $("logout").hidden = false;
    $("data").hidden = false;
    $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
  }

  function unavailable(err) {
    if (!(err instanceof ApiError)) return "The WAASP API is unreachable — retrying";
    if (err.status === 503 && /redis/i.test(err.message)) return "Redis is unreachable — retrying";
    return `${err.message} — retrying`;
  }

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const [queues, workers, dlq, failures, schedule, stats] = await Promise.all([
        api("/api/v1/queues"),
        api("/api/v1/workers"),
        api(`/api/v1/dlq?limit=${DLQ_PAGE}&offset=${dlqOffset}`),
        api("/api/v1/failures?limit=10"),
        api("/api/v1/schedule"),
        api("/api/v1/stats?minutes=10"),
      ]);
      if (dlqOffset > 0 && dlq.dead_letters.length === 0 && dlq.total > 0) {
        dlqOffset = Math.max(0, dlq.total - DLQ_PAGE);  // the page emptied under us
      }
      renderQueues(queues.queues);
      renderWorkers(workers.workers);
      renderDeadLetters(dlq);
      renderFailures(failures.failures);
      renderSchedule(schedule.schedule);
      renderTasks(stats.tasks);
      renderChart(stats.throughput);
      showData();
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        clearToken();
        showLogin(err.status === 403 ? "That token is not valid." : "");
        return;
      }
      $("data").hidden = true;
      $("logout").hidden = false;
      showBanner(unavailable(err));
      $("status").textContent = "";
    } finally {
      busy = false;
    }
  }

  function start() {
    stop();
    refresh();
    timer = window.setInterval(refresh, REFRESH_MS);
  }

  function stop() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("token").value.trim();
      if (!value) return;
      setToken(value);
      $("token").value = "";
      $("login").hidden = true;
      start();
    });
    $("logout").addEventListener("click", () => {
      clearToken();
      showLogin("");
    });
    $("dlq-newer").addEventListener("click", () => {
      dlqOffset = Math.max(0, dlqOffset - DLQ_PAGE);
      refresh();
    });
    $("dlq-older").addEventListener("click", () => {
      dlqOffset += DLQ_PAGE;
      refresh();
    });
    if (token()) start();
    else showLogin("");
  });
})();
