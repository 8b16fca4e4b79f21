// "Tasks & queues": the task runtime's queues, throughput, workers, dead letters, failures,
// schedule and counters, read from Redis at every refresh.

import { api, path } from "./api.js";
import { caption, redraw, renderChart } from "./chart.js";
import { ask } from "./dialog.js";
import {
  $,
  actions,
  button,
  cell,
  el,
  errorText,
  fillTable,
  idCell,
  idNode,
  link,
  pager,
  press,
  seconds,
  timeCell,
  toast,
  when,
} from "./dom.js";

const DLQ_PAGE = 20;
let dlqPages = null;
let minutes = 10;
let changed = () => {};
const openFailures = new Set();

export const taskHref = (id) => `#task/${encodeURIComponent(id)}`;
const queueHref = (name) => `#queue/${encodeURIComponent(name)}`;

// Waiting tasks; per priority in the cell's title when the queue uses priorities.
function waitingCell(q) {
  const td = cell(q.waiting, "num waiting");
  const levels = Object.entries(q.waiting_by_priority || {});
  if (levels.length) td.title = levels.map(([p, n]) => `priority ${p}: ${n}`).join("\n");
  return td;
}

function renderQueues(queues) {
  fillTable(
    "queues",
    queues,
    (q) => [
      cell(link(q.name, queueHref(q.name)), "name"),
      waitingCell(q),
      cell(q.in_flight, "num in-flight"),
      cell(q.delayed, "num delayed"),
      cell(q.dead, "num dead"),
      cell(seconds(q.oldest_waiting_age), "age"),
      cell(q.consumers, "num consumers"),
      cell(q.paused ? "paused" : "active", q.paused ? "state bad" : "state ok"),
      cell(
        actions(
          q.paused
            ? button("Resume", "resume", () => queueAction("Resume", q.name))
            : button("Pause", "pause", () => queueAction("Pause", q.name)),
        ),
      ),
    ],
    (q) => ({ queue: q.name }),
  );
}

async function queueAction(verb, queue) {
  const choice = await ask({
    title: `${verb} queue ${queue}?`,
    text:
      verb === "Pause"
        ? `Every worker stops taking tasks from ${queue} within a second; its tasks wait.`
        : `Workers take tasks from ${queue} again.`,
    confirm: verb,
    danger: verb === "Pause",
  });
  if (!choice) return;
  try {
    const target = `/api/v1/queues/${encodeURIComponent(queue)}/${verb.toLowerCase()}`;
    const result = await api(target, { method: "POST" });
    const state = result.paused ? "paused" : "resumed";
    toast(result.changed ? `Queue ${queue} ${state}.` : `Queue ${queue} was ${state} already.`);
  } catch (err) {
    toast(`${verb} failed: ${err.message}`, "bad");
  }
  changed();
}

function renderWorkers(workers) {
  fillTable(
    "workers",
    workers,
    (w) => [
      idCell(w.name),
      cell((w.queues || []).join(", ")),
      cell(w.concurrency, "num"),
      cell(w.in_flight, "num"),
      timeCell(w.last_heartbeat),
      cell(w.done, "num"),
      cell(w.failed, "num"),
      cell(w.retried, "num"),
      cell(w.stalled ? "stalled" : "working", w.stalled ? "bad" : "ok"),
    ],
    (w) => ({ worker: w.name }),
  );
}

async function deadLetterAction(verb, letter, run) {
  const choice = await ask({
    title: `${verb} dead letter?`,
    text:
      verb === "Replay"
        ? `${letter.task || "The message"} goes back to queue ${letter.queue}, its retries reset.`
        : `${letter.task || "The message"} (${letter.id}) is deleted for good.`,
    confirm: verb,
    danger: verb === "Delete",
  });
  if (!choice) return;
  try {
    const result = await run();
    const done = verb === "Replay" ? `Replayed as task ${result.task_id}.` : null;
    toast(done || `Dead letter ${letter.id} deleted.`);
  } catch (err) {
    toast(`${verb} failed: ${err.message}`, "bad");
  }
  changed();
}

function renderDeadLetters(page) {
  $("dlq-total").textContent = `(${page.total})`;
  dlqPages.show(page.dead_letters.length, page.total);
  fillTable(
    "dlq",
    page.dead_letters,
    (letter) => {
      const target = `/api/v1/dlq/${encodeURIComponent(letter.id)}`;
      const name = letter.task || "(undecodable)";
      const task = letter.task_id ? link(name, taskHref(letter.task_id)) : name;
      return [
        idCell(letter.id),
        cell(task),
        cell(letter.reason),
        cell(errorText(letter.error), "error"),
        timeCell(letter.failed_at),
        cell(letter.retries, "num"),
        cell(
          actions(
            button("Replay", "replay", () =>
              deadLetterAction("Replay", letter, () => api(`${target}/replay`, { method: "POST" })),
            ),
            button("Delete", "delete", () =>
              deadLetterAction("Delete", letter, () => api(target, { method: "DELETE" })),
            ),
          ),
        ),
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
      const meta = el("p", "task id ", "meta");
      meta.append(f.id ? idNode(f.id, taskHref(f.id)) : "–");
      const traceback = f.error && f.error.traceback ? f.error.traceback : "(no traceback)";
      details.append(summary, meta, el("pre", traceback));
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
    timeCell(e.next_run),
    timeCell(e.last_run),
  ]);
}

function renderTasks(tasks) {
  const names = Object.keys(tasks).sort();
  fillTable("tasks", names, (name) => {
    const c = tasks[name];
    const counts = [c.started, c.succeeded, c.retried, c.failed, c.dead_lettered];
    return [cell(name), ...counts.map((n) => cell(n || 0, "num"))];
  });
}

export const runtime = {
  auto: true,
  init(onChange) {
    changed = onChange;
    dlqPages = pager("dlq", DLQ_PAGE, onChange);
    window.addEventListener("resize", redraw);
    const group = document.querySelector("#view-runtime .segmented");
    group.addEventListener("click", (event) => {
      const target = event.target.closest("button[data-minutes]");
      if (!target) return;
      minutes = Number(target.dataset.minutes);
      press(group, target);
      changed();
    });
  },
  async refresh() {
    const [queues, workers, dlq, failures, schedule, stats] = await Promise.all([
      api("/api/v1/queues"),
      api("/api/v1/workers"),
      api(path("/api/v1/dlq", { limit: DLQ_PAGE, offset: dlqPages.offset })),
      api("/api/v1/failures?limit=10"),
      api("/api/v1/schedule"),
      api(path("/api/v1/stats", { minutes })),
    ]);
    if (dlqPages.offset > 0 && dlq.dead_letters.length === 0 && dlq.total > 0) {
      dlqPages.offset = Math.max(0, dlq.total - DLQ_PAGE); // the page emptied under us
    }
    renderQueues(queues.queues);
    renderWorkers(workers.workers);
    renderDeadLetters(dlq);
    renderFailures(failures.failures);
    renderSchedule(schedule.schedule);
    renderTasks(stats.tasks);
    $("chart-caption").textContent = caption(renderChart($("chart"), stats.throughput), minutes);
  },
};
