// Contacts: search, filter by trust, add, edit and delete (each audited by the API).

import { ApiError, api, deleteContact, path, saveContact } from "./api.js";
import { ask } from "./dialog.js";
import {
  $,
  actions,
  button,
  cell,
  channelCell,
  channelText,
  fillTable,
  idCell,
  pager,
  timeCell,
  toast,
  trustBadge,
} from "./dom.js";

const SEARCH_DELAY_MS = 250;
const PAGE = 100; // the API's default page

let changed = () => {};
let pages = null;
let editing = null; // the contact being edited; null when adding
let searchTimer = null;

function openEditor(contact) {
  editing = contact;
  $("contact-title").textContent = contact ? `Edit ${contact.sender_id}` : "Add a contact";
  $("contact-sender").value = contact ? contact.sender_id : "";
  $("contact-channel").value = contact && contact.channel !== null ? contact.channel : "";
  $("contact-trust").value = contact ? contact.trust_level : "trusted";
  $("contact-name").value = contact && contact.name !== null ? contact.name : "";
  $("contact-notes").value = contact && contact.notes !== null ? contact.notes : "";
  // Sender and channel name the row: they are fixed once it exists.
  $("contact-sender").disabled = Boolean(contact);
  $("contact-channel").disabled = Boolean(contact);
  $("contact-error").textContent = "";
  $("contact-dialog").showModal();
  (contact ? $("contact-trust") : $("contact-sender")).focus();
}

const orNull = (value) => (value.trim() === "" ? null : value);

async function save(event) {
  event.preventDefault();
  const fields = {
    sender_id: $("contact-sender").value.trim(),
    channel: orNull($("contact-channel").value),
    trust_level: $("contact-trust").value,
    name: orNull($("contact-name").value),
    notes: orNull($("contact-notes").value),
  };
  const saveButton = $("contact-save");
  saveButton.disabled = true;
  try {
    const saved = await saveContact(editing, fields);
    $("contact-dialog").close();
    const what = editing ? "saved" : "added";
    const where = channelText(saved.channel);
    toast(`Contact ${saved.sender_id} (${where}) ${what}: ${saved.trust_level}.`);
    changed();
  } catch (err) {
    // Stay open with the API's words ("channel: must be ..."), so the admin can correct it.
    $("contact-error").textContent =
      err instanceof ApiError && err.status === 409
        ? "A contact for this sender already exists on this channel."
        : err.message;
  } finally {
    saveButton.disabled = false;
  }
}

async function remove(contact) {
  const choice = await ask({
    title: `Delete ${contact.sender_id}?`,
    text:
      `The contact for ${channelText(contact.channel)} is removed; its checks are then decided ` +
      "by another contact of this sender, or refused as unknown.",
    confirm: "Delete",
    danger: true,
  });
  if (!choice) return;
  try {
    await deleteContact(contact);
    toast(`Contact ${contact.sender_id} (${channelText(contact.channel)}) deleted.`);
  } catch (err) {
    toast(`Delete failed: ${err.message}`, "bad");
  }
  changed();
}

function render(data) {
  $("contacts-total").textContent = `(${data.total})`;
  pages.show(data.contacts.length, data.total);
  fillTable(
    "contacts",
    data.contacts,
    (c) => [
      idCell(c.sender_id),
      channelCell(c.channel),
      cell(trustBadge(c.trust_level)),
      cell(c.name),
      cell(c.notes, "notes"),
      timeCell(c.updated_at),
      cell(
        actions(
          button("Edit", "edit", () => openEditor(c)),
          button("Delete", "delete", () => remove(c)),
        ),
      ),
    ],
    (c) => ({ sender: c.sender_id, channel: channelText(c.channel) }),
  );
}

export const contacts = {
  auto: false,
  init(onChange) {
    changed = onChange;
    pages = pager("contacts", PAGE, onChange);
    const fromTheTop = () => {
      pages.offset = 0;
      changed();
    };
    $("contacts-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      fromTheTop();
    });
    $("contacts-search").addEventListener("input", () => {
      if (searchTimer !== null) window.clearTimeout(searchTimer);
      searchTimer = window.setTimeout(fromTheTop, SEARCH_DELAY_MS);
    });
    $("contacts-trust").addEventListener("change", fromTheTop);
    $("contact-add").addEventListener("click", () => openEditor(null));
    $("contact-form").addEventListener("submit", save);
    $("contact-cancel").addEventListener("click", () => $("contact-dialog").close());
  },
  async refresh() {
    const query = {
      search: $("contacts-search").value.trim(),
      trust_level: $("contacts-trust").value,
      limit: PAGE,
    };
    let data = await api(path("/api/v1/contacts", { ...query, offset: pages.offset }));
    if (!data.contacts.length && pages.offset > 0) {
      // The page emptied (its last contacts deleted, or fewer match now): show the last one.
      pages.offset = Math.max(0, Math.ceil(data.total / PAGE) - 1) * PAGE;
      data = await api(path("/api/v1/contacts", { ...query, offset: pages.offset }));
    }
    render(data);
  },
};
