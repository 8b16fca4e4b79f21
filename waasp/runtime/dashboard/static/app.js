// The runtime's dashboard: vanilla JS modules, no build step. Every figure comes from the
// token-protected JSON API; text from the server is only ever set with textContent.
//
// Views are addressed by the URL's hash: #runtime, #queue/NAME, #task and #task/ID, and the
// host application's own views, listed in <body data-pages> (the WAASP API's: #decisions,
// the home view, #contacts, #audit), each a module NAME.js exporting a view NAME. The shown
// view is read again after every action and, when it is a live one, every `every` ms
// (runtime, a queue, an unfinished task: 2 s; recent decisions: 10 s, as each read groups a
// window of the audit trail); contacts and the audit log only on demand, so a search being
// typed stays put.

import { ApiError, clearToken, setToken, token } from "./api.js";
import { $ } from "./dom.js";
import { runtime } from "./runtime.js";
import { queue, task } from "./tasks.js";

const REFRESH_MS = 2000;
const VIEWS = { runtime, queue, task };
let home = "runtime"; // the view an empty or unknown hash shows
// The nav entry each view belongs to.
const NAV = { queue: "runtime" };

let timer = null;
let busy = false;
let lastRead = 0; // when the shown view was last read (ms)
let again = false; // a refresh was asked for while one ran

function route() {
  const hash = window.location.hash.replace(/^#/, "");
  const [name, ...rest] = hash.split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  if (!(name in VIEWS) || (name === "queue" && !arg)) return { name: home, arg: "" };
  return { name, arg };
}

// Show the view `name` (while no error is shown: then it stays hidden until a read succeeds).
function showView(name) {
  const failing = !$("banner").hidden;
  for (const view of Object.keys(VIEWS)) $(`view-${view}`).hidden = view !== name || failing;
  const current = NAV[name] || name;
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.dataset.view === current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// -- states of the page ----------------------------------------------------------------

function showLogin(message) {
  stop();
  for (const id of ["data", "banner", "logout", "nav", "toast"]) $(id).hidden = true;
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

function unavailable(err) {
  if (!(err instanceof ApiError)) return "The server is unreachable — retrying";
  if (err.status === 503 && /redis/i.test(err.message)) return "Redis is unreachable — retrying";
  if (err.status === 503 && /postgres/i.test(err.message)) {
    return "PostgreSQL is unreachable — retrying";
  }
  return `${err.message} — retrying`;
}

// Read the shown view again. `live` is true for the timer's calls, which skip the views that
// refresh only on demand.
async function refresh(live = false) {
  const { name, arg } = route();
  const view = VIEWS[name];
  const due = lastRead + (view.every || REFRESH_MS) - 100;
  const failing = !$("banner").hidden; // "retrying": every view tries again at every tick
  if (live && !failing && (!view.auto || Date.now() < due)) return;
  if (busy) {
    again = again || !live;
    return;
  }
  busy = true;
  lastRead = Date.now();
  try {
    showView(name);
    await view.refresh(arg, { again: live });
    $("banner").hidden = true;
    $(`view-${name}`).hidden = false;
    $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (err instanceof ApiError && err.unauthorized) {
      clearToken();
      showLogin(err.status === 403 ? "That token is not valid." : "");
      return;
    }
    $(`view-${name}`).hidden = true;
    showBanner(unavailable(err));
    $("status").textContent = "";
  } finally {
    busy = false;
  }
  if (again) {
    again = false;
    await refresh();
  }
}

function start() {
  stop();
  $("login").hidden = true;
  for (const id of ["data", "logout", "nav"]) $(id).hidden = false;
  refresh();
  timer = window.setInterval(() => refresh(true), REFRESH_MS);
}

function stop() {
  if (timer !== null) window.clearInterval(timer);
  timer = null;
}

// Load the host application's views; the first one becomes the home view.
async function loadPages() {
  const names = (document.body.dataset.pages || "").split(" ").filter(Boolean);
  const modules = await Promise.all(names.map((name) => import(`./${name}.js`)));
  names.forEach((name, i) => {
    VIEWS[name] = modules[i][name];
  });
  if (names.length) home = names[0];
}

document.addEventListener("DOMContentLoaded", async () => {
  await loadPages();
  const changed = () => refresh();
  for (const view of Object.values(VIEWS)) view.init(changed);
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    setToken(value);
    $("token").value = "";
    start();
  });
  $("logout").addEventListener("click", () => {
    clearToken();
    showLogin("");
  });
  window.addEventListener("hashchange", () => {
    $("toast").hidden = true;
    refresh();
  });
  if (token()) start();
  else showLogin("");
});
