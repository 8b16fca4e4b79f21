// Small DOM helpers. Text from the server is only ever set with textContent, never as HTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export function cell(value, className) {
  if (value instanceof Node) {
    const td = el("td", null, className);
    td.append(value);
    return td;
  }
  return el("td", value === null || value === undefined ? "–" : value, className);
}

// Fill a table's body, one row per item. Each cell gets its column's header as data-label,
// which narrow windows show beside the value (the table becomes a list of cards).
export function fillTable(id, rows, toCells, rowData) {
  const table = $(id);
  const tbody = table.tBodies[0];
  const labels = [...table.tHead.rows[0].cells].map((th) => th.textContent);
  if (!rows.length) {
    const empty = el("td", "none", "empty");
    empty.colSpan = labels.length;
    const tr = el("tr");
    tr.append(empty);
    tbody.replaceChildren(tr);
    return;
  }
  tbody.replaceChildren(
    ...rows.map((row) => {
      const tr = el("tr");
      if (rowData) Object.assign(tr.dataset, rowData(row));
      const cells = toCells(row);
      cells.forEach((td, i) => {
        if (labels[i]) td.dataset.label = labels[i];
      });
      tr.append(...cells);
      return tr;
    }),
  );
}

export function button(label, className, onClick) {
  const node = el("button", label, className);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

export function link(text, href, className) {
  const node = el("a", text, className);
  node.href = href;
  return node;
}

// An id (a task's, a sender's, a dead letter's) on one line: a long one ends in an ellipsis
// rather than breaking, and shows whole on hover; with href, it is a link.
export function idNode(value, href) {
  const node = href ? link(value, href, "id") : el("span", value, "id");
  node.title = value;
  return node;
}

export function idCell(value, href) {
  return value === null || value === undefined ? cell(null) : cell(idNode(value, href), "id-cell");
}

export function actions(...buttons) {
  const span = el("span", null, "actions");
  span.append(...buttons);
  return span;
}

// The Newer/Older pager of the elements PREFIX-newer, PREFIX-older and PREFIX-page, over
// pages of `size`. `show` sets its text and buttons; `total` null means "not known".
export function pager(prefix, size, onChange) {
  const state = {
    offset: 0,
    show(shown, total = null) {
      const first = shown ? state.offset + 1 : 0;
      const last = state.offset + shown;
      let text = shown ? `entries ${first}–${last}` : "no entries";
      if (total !== null && shown) text = `${first}–${last} of ${total}`;
      $(`${prefix}-page`).textContent = text;
      $(`${prefix}-newer`).disabled = state.offset === 0;
      $(`${prefix}-older`).disabled = total === null ? shown < size : last >= total;
    },
  };
  $(`${prefix}-newer`).addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - size);
    onChange();
  });
  $(`${prefix}-older`).addEventListener("click", () => {
    state.offset += size;
    onChange();
  });
  return state;
}

// Press one button of a group of toggles (aria-pressed).
export function press(group, pressed) {
  for (const node of group.querySelectorAll("button")) {
    node.setAttribute("aria-pressed", String(node === pressed));
  }
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 60) return `${value.toFixed(1)} s`;
  if (value < 3600) return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
  return `${(value / 3600).toFixed(1)} h`;
}

// A time from the API (epoch seconds or an ISO 8601 string) in the reader's locale.
export function when(value) {
  if (!value) return "–";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

// A time cell, with an optional note after the time ("in 5 min").
export function timeCell(value, note) {
  const node = el("time", when(value));
  if (value) {
    node.dateTime = typeof value === "number" ? new Date(value * 1000).toISOString() : value;
  }
  if (!note) return cell(node);
  const both = el("span");
  both.append(node, el("small", ` ${note}`, "muted"));
  return cell(both);
}

export function errorText(error) {
  return error ? `${error.type}: ${error.message}` : "–";
}

// A call's arguments the way Python writes them: (1, "x", key=true).
export function callText(args, kwargs) {
  if (!args && !kwargs) return "–";
  const parts = (args || []).map((a) => JSON.stringify(a));
  for (const [name, value] of Object.entries(kwargs || {})) {
    parts.push(`${name}=${JSON.stringify(value)}`);
  }
  return `(${parts.join(", ")})`;
}

export function channelText(channel) {
  return channel === null || channel === undefined ? "all channels" : channel;
}

export function channelCell(channel) {
  return cell(channelText(channel), channel === null || channel === undefined ? "muted" : "");
}

export function trustBadge(level) {
  return el("span", level, `badge trust-${level}`);
}

// -- the result of an action: one line at the top of the page ----------------------------

let toastTimer = null;

export function toast(message, kind = "ok") {
  const box = $("toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  box.hidden = false;
  if (toastTimer !== null) window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => {
    box.hidden = true;
  }, 10_000);
}
