// One task found by id (state, arguments, result, error and traceback, retries; revoke it),
// and one queue's contents (what waits, what is delayed until when).

import { ApiError, api, path } from "./api.js";
import { ask } from "./dialog.js";
import {
  $,
  callText,
  cell,
  el,
  errorText,
  fillTable,
  idCell,
  link,
  seconds,
  timeCell,
  toast,
  when,
} from "./dom.js";
import { taskHref } from "./runtime.js";

const QUEUE_LIMIT = 50;
const READY = new Set(["SUCCESS", "FAILURE", "REVOKED"]);
const PLACES = {
  waiting: "waiting in queue",
  in_flight: "running (in flight) from queue",
  delayed: "delayed in queue",
  dead: "in the dead letters of queue",
};

let shownTask = null; // the id on screen; a READY task is not read again

// -- a task -----------------------------------------------------------------------------

function field(list, term, value) {
  if (value === null || value === undefined || value === "") return;
  const dd = el("dd");
  dd.append(value instanceof Node ? value : String(value));
  list.append(el("dt", term), dd);
}

function block(title, text, className) {
  const section = el("div", null, "block");
  section.append(el("h3", title), el("pre", text, className));
  return section;
}

function where(message) {
  const span = el("span", `${PLACES[message.place] || message.place} `);
  span.append(link(message.queue, `#queue/${encodeURIComponent(message.queue)}`));
  if (message.due_at) span.append(`, due ${when(message.due_at)}`);
  if (message.dead_id) span.append(` (dead letter ${message.dead_id})`);
  return span;
}

function renderTask(task) {
  $("task-detail").hidden = false;
  $("task-title").textContent = task.id;
  const state = $("task-state");
  state.textContent = task.state;
  state.className = `state badge state-${task.state.toLowerCase()}`;
  const fields = $("task-fields");
  fields.replaceChildren();
  const message = task.message;
  field(fields, "Task", task.name || (message && message.task));
  field(fields, "Where", message ? where(message) : null);
  field(fields, "Queue", message ? null : task.queue);
  field(fields, "Worker", task.worker);
  field(fields, "Retries", task.retries);
  field(fields, "Started", task.started_at ? when(task.started_at) : null);
  field(fields, "Finished", task.date_done ? when(task.date_done) : null);
  field(fields, "Progress", task.progress == null ? null : JSON.stringify(task.progress));
  const body = [];
  if (message && message.task) {
    body.push(block("Arguments", callText(message.args, message.kwargs), "args"));
  } else if (message) {
    body.push(block("Message (undecodable)", message.raw_message || "", "args"));
  } else {
    const note =
      task.state === "PENDING" && !task.name
        ? "No record and no message for this id: it is unknown, its record expired, or it " +
          "waits deeper in its queue than the dashboard reads."
        : "The arguments are kept only while the task waits, runs or sits in the dead letters.";
    body.push(el("p", note, "muted note"));
  }
  if (task.state === "SUCCESS") {
    body.push(block("Result", JSON.stringify(task.result, null, 2), "result"));
  }
  if (task.error) {
    body.push(block("Error", errorText(task.error), "error"));
    body.push(block("Traceback", task.error.traceback || "(no traceback)", "traceback"));
  }
  $("task-body").replaceChildren(...body);
  const finished = READY.has(task.state);
  $("task-revoke").disabled = finished;
  $("task-revoke-note").textContent = finished
    ? "It has finished: nothing to revoke."
    : "A revoked task never starts; a running one can be terminated.";
}

async function revokeShown() {
  const id = $("task-title").textContent;
  const choice = await ask({
    title: "Revoke task?",
    text: `Task ${id} will not start, wherever it waits.`,
    confirm: "Revoke",
    danger: true,
    fields: [
      {
        name: "terminate",
        label: "If it is running",
        value: "false",
        options: [
          ["false", "let it finish"],
          ["true", "terminate it (a sync task's result is discarded)"],
        ],
      },
    ],
  });
  if (!choice) return;
  try {
    const target = `/api/v1/tasks/${encodeURIComponent(id)}/revoke`;
    const body = { terminate: choice.terminate === "true" };
    const report = await api(target, { method: "POST", body });
    toast(`Revoked ${id}: ${report.note}.`);
  } catch (err) {
    toast(`Revoke failed: ${err.message}`, "bad");
  }
  await lookUp(id);
}

async function lookUp(id) {
  if (!id) {
    $("task-detail").hidden = true;
    $("task-error").textContent = "";
    shownTask = null;
    return;
  }
  $("task-id").value = id;
  let task;
  try {
    task = await api(`/api/v1/tasks/${encodeURIComponent(id)}`);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 400) throw err;
    $("task-detail").hidden = true;
    $("task-error").textContent = err.message; // an id the API refuses: say so by the form
    return;
  }
  $("task-error").textContent = "";
  renderTask(task);
  shownTask = READY.has(task.state) ? id : null;
}

export const task = {
  auto: true,
  init() {
    $("task-revoke").addEventListener("click", revokeShown);
    $("task-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("task-id").value.trim();
      if (id) window.location.hash = taskHref(id);
    });
  },
  async refresh(id, { again }) {
    if (again && shownTask === id) return; // finished: nothing more will change
    await lookUp(id);
  },
};

// -- a queue ----------------------------------------------------------------------------

function taskCells(t, timeValue) {
  const args = t.task ? callText(t.args, t.kwargs) : t.raw_message;
  const note = t.due_in === null ? "" : `in ${seconds(Math.max(t.due_in, 0))}`;
  const time = timeCell(timeValue, note);
  return [
    cell(t.task || "(undecodable)"),
    idCell(t.task_id, t.task_id ? taskHref(t.task_id) : null),
    cell(args, "args"),
    time,
    cell(t.retries, "num"),
  ];
}

function total(node, listing) {
  const shown = listing.tasks.length;
  node.textContent =
    shown < listing.total ? `(${listing.total}, the first ${shown} shown)` : `(${listing.total})`;
}

export const queue = {
  auto: true,
  init() {},
  async refresh(name) {
    $("queue-name").textContent = name;
    const target = `/api/v1/queues/${encodeURIComponent(name)}/tasks`;
    const data = await api(path(target, { limit: QUEUE_LIMIT }));
    total($("queue-waiting-total"), data.waiting);
    total($("queue-delayed-total"), data.delayed);
    const rowData = (t) => ({ id: t.task_id || "" });
    fillTable("queue-waiting", data.waiting.tasks, (t) => taskCells(t, t.enqueued_at), rowData);
    fillTable("queue-delayed", data.delayed.tasks, (t) => taskCells(t, t.due_at), rowData);
  },
};
