// The confirmation dialog every action goes through: a question, optional choices (selects),
// Cancel or Confirm. ask() resolves with the chosen values, or null when cancelled.

import { $, el } from "./dom.js";

function select(field) {
  const label = el("label", field.label);
  const input = el("select");
  input.name = field.name;
  input.id = `confirm-${field.name}`;
  for (const [value, text] of field.options) {
    const option = el("option", text);
    option.value = value;
    input.append(option);
  }
  input.value = field.value;
  label.append(input);
  return label;
}

export function ask({ title, text, confirm, danger = false, fields = [] }) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-fields").replaceChildren(...fields.map(select));
  const ok = $("confirm-ok");
  ok.textContent = confirm;
  ok.className = danger ? "danger" : "primary";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue !== "ok") {
          resolve(null);
          return;
        }
        const values = {};
        for (const field of fields) values[field.name] = $(`confirm-${field.name}`).value;
        resolve(values);
      },
      { once: true },
    );
    dialog.returnValue = "";
    dialog.showModal();
    ok.focus();
  });
}
