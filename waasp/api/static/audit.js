// The audit log: every decision and admin change, newest first, filtered and paged.

import { api, path } from "./api.js";
import { $, cell, channelCell, el, fillTable, idCell, pager, timeCell } from "./dom.js";

const PAGE = 50;
const ACTION_CLASS = {
  allowed: "ok",
  limited: "retry",
  blocked: "bad",
  trust_changed: "info",
};

let pages = null;
let changed = () => {};

// What an entry says beyond its columns: the message of a check, or what an admin changed.
function details(entry) {
  const meta = entry.metadata || {};
  if (entry.message_preview) return `“${entry.message_preview}”`;
  if (entry.action === "trust_changed") return `${meta.previous_trust} → ${meta.trust_level}`;
  if (entry.action === "contact_updated" && Array.isArray(meta.changed)) {
    return `changed ${meta.changed.join(", ")}`;
  }
  if (meta.trust_level) return `trust ${meta.trust_level}`;
  return "";
}

function filters() {
  return {
    sender_id: $("audit-sender").value.trim(),
    action: $("audit-action").value,
    channel: $("audit-channel").value.trim(),
  };
}

function render(data) {
  pages.show(data.count);
  fillTable(
    "audit",
    data.logs,
    (entry) => [
      timeCell(entry.created_at),
      cell(el("span", entry.action, `badge action ${ACTION_CLASS[entry.action] || ""}`)),
      idCell(entry.sender_id),
      channelCell(entry.channel),
      cell(entry.reason),
      cell(details(entry), "details"),
    ],
    (entry) => ({ id: String(entry.id), action: entry.action }),
  );
}

export const audit = {
  auto: false,
  init(onChange) {
    changed = onChange;
    pages = pager("audit", PAGE, onChange);
    const fromTheTop = () => {
      pages.offset = 0;
      changed();
    };
    $("audit-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      fromTheTop();
    });
    $("audit-action").addEventListener("change", fromTheTop);
    $("audit-clear").addEventListener("click", () => {
      $("audit-filter").reset();
      fromTheTop();
    });
  },
  async refresh() {
    render(await api(path("/api/v1/audit", { ...filters(), limit: PAGE, offset: pages.offset })));
  },
};
