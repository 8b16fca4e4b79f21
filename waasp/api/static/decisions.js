// "Recent decisions": the senders refused in the last hour or day, and one-click Allow or
// Block, each confirmed in a dialog, its result shown at the top of the page.

import { api, path, setTrust } from "./api.js";
import { ask } from "./dialog.js";
import {
  $,
  actions,
  button,
  cell,
  channelCell,
  channelText,
  el,
  fillTable,
  idCell,
  press,
  timeCell,
  toast,
  trustBadge,
} from "./dom.js";

const ALLOW_LEVELS = [
  ["trusted", "trusted"],
  ["limited", "limited (allowed with limited trust)"],
  ["sovereign", "sovereign"],
];

let windowName = "1h";
let changed = () => {};

function where(channel) {
  return channel === null ? "on every channel" : `on channel “${channel}”`;
}

// Who decides this row's checks now: the contact a check on its channel matches.
function decidedBy(row) {
  const contact = row.contact;
  if (!contact) return el("span", "unknown sender", "muted");
  const span = el("span");
  const scope = contact.channel === null ? "all channels" : "this channel";
  span.append(trustBadge(contact.trust_level), ` ${scope}`);
  return span;
}

// Which row an action changes by default: the contact that decides now if there is one
// (changing it is what changes the answer), else the narrowest: the check's own channel.
function scopeField(row) {
  const options = [];
  if (row.channel !== null) options.push(["channel", `only channel “${row.channel}”`]);
  options.push(["all", "all channels"]);
  const contact = row.contact;
  const value = row.channel === null || (contact && contact.channel === null) ? "all" : "channel";
  return { name: "scope", label: "Applies to", options, value };
}

async function act(row, trust, verb) {
  const fields = [scopeField(row)];
  if (trust === null) {
    const levels = { name: "trust", label: "Trust level", options: ALLOW_LEVELS, value: "trusted" };
    fields.unshift(levels);
  }
  const choice = await ask({
    title: `${verb} ${row.sender_id}?`,
    text:
      verb === "Allow"
        ? `Checks of ${row.sender_id} will pass. Refused ${row.checks} times ${where(row.channel)}.`
        : `Checks of ${row.sender_id} will be refused.`,
    confirm: verb,
    danger: verb === "Block",
    fields,
  });
  if (!choice) return;
  const level = trust || choice.trust;
  const channel = choice.scope === "all" ? null : row.channel;
  try {
    const how = await setTrust(row.sender_id, channel, level);
    const done = how === "added" ? "added as" : "now";
    const contact = row.contact;
    // A channel's own contact wins over the global one: say so rather than imply otherwise.
    const still =
      channel === null && contact && contact.channel !== null
        ? ` On “${contact.channel}” its own contact (${contact.trust_level}) still decides.`
        : "";
    toast(`${row.sender_id} ${done} ${level} ${where(channel)}.${still}`);
  } catch (err) {
    toast(`${verb} ${row.sender_id} failed: ${err.message}`, "bad");
  }
  changed();
}

function render(data) {
  const senders = data.senders;
  const checks = data.checks;
  $("decisions-summary").textContent = senders
    ? `${checks} refused checks from ${senders} sender${senders === 1 ? "" : "s"}` +
      (data.blocked.length < senders ? ` (the ${data.blocked.length} most refused shown)` : "")
    : "";
  fillTable(
    "decisions",
    data.blocked,
    (row) => {
      const blocked = row.contact && row.contact.trust_level === "blocked";
      const block = button("Block", "block", () => act(row, "blocked", "Block"));
      block.disabled = blocked;
      if (blocked) block.title = "already blocked";
      return [
        idCell(row.sender_id),
        channelCell(row.channel),
        cell(row.checks, "num checks"),
        timeCell(row.last_seen),
        cell(decidedBy(row), "decided"),
        cell(actions(button("Allow", "allow", () => act(row, null, "Allow")), block)),
      ];
    },
    (row) => ({ sender: row.sender_id, channel: channelText(row.channel) }),
  );
}

export const decisions = {
  auto: true,
  every: 10_000,
  init(onChange) {
    changed = onChange;
    const group = document.querySelector("#view-decisions .segmented");
    group.addEventListener("click", (event) => {
      const target = event.target.closest("button[data-window]");
      if (!target) return;
      windowName = target.dataset.window;
      press(group, target);
      changed();
    });
  },
  async refresh() {
    render(await api(path("/api/v1/audit/recent-blocked", { window: windowName })));
  },
};
