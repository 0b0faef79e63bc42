// The console's start and its router. The page asks the server whether it needs the admin key; if
// so and no session is open, it shows the sign-in form, and otherwise the view the URL names:
//
//   #/tasks (the default)   #/tasks/<id>   #/requests   #/apps   #/faults
//
// The tenant shown is the page URL's ?tenant=<guid>, or the server's default tenant. Each view module
// exports mount(container, context, ...arguments), which returns a function that stops whatever the
// view keeps running (its polling).

import {admin, currentSession, loadSession, signIn, signOut} from "./api.js";
import {h, field, announce, alertError, clearAlert} from "./dom.js";
import * as apps from "./apps.js";
import * as faults from "./faults.js";
import * as requests from "./requests.js";
import * as task from "./task.js";
import * as tasks from "./tasks.js";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VIEWS = {
  tasks: {title: "Security tasks", module: tasks},
  task: {title: "Task", module: task, nav: "tasks"},
  requests: {title: "Requests", module: requests},
  apps: {title: "Apps and tenants", module: apps},
  faults: {title: "Faults and throttling", module: faults},
};

const main = document.getElementById("main");
let stopView = () => {};
let rendered = 0; // which render is the latest: a slower earlier one must not leave its view running
let firstRender = true;

function tenant() {
  const asked = new URLSearchParams(location.search).get("tenant");
  return asked && GUID.test(asked) ? asked.toLowerCase() : currentSession().defaultTenant;
}

function route() {
  const [name = "tasks", ...rest] = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (name === "tasks" && rest.length) return {view: "task", args: [decodeURIComponent(rest.join("/"))]};
  return VIEWS[name] ? {view: name, args: []} : {view: "tasks", args: []};
}

export function switchTenant(id) {
  const url = new URL(location.href);
  url.searchParams.set("tenant", id.toLowerCase());
  // A task belongs to one tenant: after a switch, its page would only say it does not exist.
  if (route().view === "task") url.hash = "#/tasks";
  history.pushState(null, "", url);
  render();
  announce(`Showing tenant ${id}.`);
}

async function render() {
  stopView();
  stopView = () => {};
  const ticket = ++rendered;
  clearAlert(); // an error of the view left behind is no longer news
  const {view, args} = route();
  const spec = VIEWS[view];
  markNav(spec.nav ?? view);
  document.title = `${spec.title} · graphtasks console`;
  document.getElementById("tenant-input").value = tenant();
  // Each render draws into its own container: a view still loading after the admin moved on writes
  // into a container no longer on the page.
  const slot = h("div", {class: "slot"}, h("p", {class: "loading"}, "Loading…"));
  main.replaceChildren(slot);
  let stop = () => {};
  try {
    stop = await spec.module.mount(slot, {tenant: tenant(), switchTenant}, ...args) ?? stop;
  } catch (error) {
    slot.replaceChildren(h("h1", {id: "view-title", tabindex: "-1"}, spec.title), h("p", {}, error.message));
    alertError(error);
  }
  if (ticket !== rendered) {
    stop();
    return;
  }
  stopView = stop;
  // Moving the focus to the new heading tells keyboard and screen reader users the view changed;
  // on the first load the browser's own start is better.
  if (!firstRender && view !== "task") slot.querySelector("#view-title")?.focus();
  firstRender = false;
}

function markNav(current) {
  for (const link of document.querySelectorAll("#main-nav a")) {
    if (link.dataset.view === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// --- the session ---

function showChrome(signedIn) {
  const session = currentSession();
  document.body.classList.toggle("signed-out", !signedIn);
  document.getElementById("main-nav").hidden = !signedIn;
  document.getElementById("tenant-picker").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !(signedIn && session.keyRequired);
  document.getElementById("session-text").textContent = !signedIn ? ""
    : session.keyRequired ? "Signed in with the admin key" : "This machine: no key needed";
}

function showSignIn(message = "") {
  stopView();
  stopView = () => {};
  showChrome(false);
  document.title = "Sign in · graphtasks console";
  const key = h("input", {type: "password", autocomplete: "current-password", required: true, spellcheck: "false"});
  const error = h("p", {id: "sign-in-error", class: "error", role: "alert", hidden: !message}, message);
  const submit = async (event) => {
    event.preventDefault();
    try {
      await signIn(key.value);
      clearAlert();
      start();
    } catch (failure) {
      error.textContent = failure.status === 401
        ? "The server refused this key. `graphtasks faults key` prints the right one."
        : failure.message;
      error.hidden = false;
      key.setAttribute("aria-invalid", "true");
      key.select();
    }
  };
  key.setAttribute("aria-describedby", "sign-in-help sign-in-error");
  main.replaceChildren(h("section", {class: "view sign-in", "aria-labelledby": "view-title"},
    h("h1", {id: "view-title", tabindex: "-1"}, "Sign in"),
    h("form", {class: "card", onsubmit: submit},
      h("p", {id: "sign-in-help"}, "This server asks for its admin key. ",
        h("code", {}, "graphtasks faults key --database <url>"), " prints it."),
      field("Admin key", key),
      error,
      h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, "Sign in")))));
  key.focus();
}

async function fillTenants() {
  const options = document.getElementById("tenant-options");
  try {
    const {value} = await admin("/tenants");
    options.replaceChildren(...value.map((t) => h("option", {value: t.tenant}, t.displayName)));
  } catch {
    // A server without the registry endpoints: the field still takes any tenant id.
  }
}

function start() {
  showChrome(true);
  fillTenants();
  render();
}

async function boot() {
  document.getElementById("tenant-picker").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = document.getElementById("tenant-input").value.trim();
    if (GUID.test(value)) switchTenant(value);
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    try {
      await signOut();
      showSignIn();
      announce("Signed out.");
    } catch (error) {
      alertError(error);
    }
  });
  window.addEventListener("popstate", () => currentSession()?.signedIn && render());
  window.addEventListener("console:signed-out", () => showSignIn("The session ended. Sign in again."));
  try {
    const session = await loadSession();
    if (session.signedIn) start();
    else showSignIn();
  } catch (error) {
    main.replaceChildren(h("h1", {}, "The console could not start"), h("p", {}, error.message));
  }
}

boot();
