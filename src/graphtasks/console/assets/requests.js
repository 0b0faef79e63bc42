// The Requests view: the server's journal of the tenant's Graph requests, newest first, kept live.
// Every poll reads the journal and puts the entries not seen yet on top; entries already shown are
// never rebuilt, so one that is open stays open and the focus stays where it is.

import {admin, currentSession, isOwnRequest} from "./api.js";
import {h, field, select, poll, announce, alertError, pretty, confirmDialog} from "./dom.js";
import {instant, reason, time} from "./format.js";

const POLL_MS = 1500;
const STATUS_CLASSES = [["", "All statuses"], ["2xx", "2xx success"], ["3xx", "3xx redirection"],
  ["4xx", "4xx client errors"], ["5xx", "5xx server errors"]];
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"];
// As many entries as a journal keeps by default (--journal-size): older ones leave the page as new
// ones come, so a console left open for a day stays as light as it started.
const SHOWN_AT_MOST = 1000;

export async function mount(main, context) {
  const view = build(context);
  main.replaceChildren(view.root);
  if (!currentSession()?.journal) {
    view.list.replaceWith(h("p", {}, "This server keeps no journal (it was started with --journal-size 0)."));
    return () => {};
  }
  view.names = await appNames(view.tenant);
  view.start = () => poll(() => refresh(view), POLL_MS);
  view.stop = view.start();
  return () => view.stop();
}

function build(context) {
  const view = {tenant: context.tenant, seen: new Set(), apps: new Set(), paused: false,
    filter: {status: "", method: "", app: "", hideOwn: true}};
  const hideOwn = h("input", {type: "checkbox", checked: true, onchange: (event) => {
    view.filter.hideOwn = event.target.checked;
    refilter(view);
  }});
  view.list = h("ol", {class: "journal", "aria-label": "Requests, newest first"});
  view.summary = h("p", {class: "summary"});
  view.appSelect = select([["", "All apps"]], "", {onchange: filterBy(view, "app")});
  view.pause = h("button", {type: "button", onclick: () => togglePause(view)}, "Pause");
  view.root = h("section", {class: "view", "aria-labelledby": "view-title"},
    h("div", {class: "view-head"},
      h("h1", {id: "view-title", tabindex: "-1"}, "Requests"),
      h("div", {class: "actions"}, view.pause,
        h("button", {type: "button", class: "danger", onclick: () => clear(view)}, "Clear journal"))),
    h("p", {class: "lead"}, "The Graph requests this tenant's apps sent, newest first, with their bodies. ",
      "New requests appear as they are made."),
    h("form", {class: "filters", "aria-label": "Filter requests", onsubmit: (e) => e.preventDefault()},
      field("Status", select(STATUS_CLASSES, "", {onchange: filterBy(view, "status")})),
      field("Method", select([["", "All methods"], ...METHODS.map((m) => [m, m])], "",
        {onchange: filterBy(view, "method")})),
      field("App", view.appSelect),
      h("label", {class: "check"}, hideOwn, "Hide this console's own requests")),
    view.summary,
    view.list);
  return view;
}

// The button says what it will do, so it needs no pressed state of its own.
function togglePause(view) {
  view.paused = !view.paused;
  view.pause.textContent = view.paused ? "Resume" : "Pause";
  if (view.paused) view.stop();
  else view.stop = view.start();
  announce(view.paused ? "Live updates paused." : "Live updates resumed.");
}

async function clear(view) {
  if (!await confirmDialog("Empty this tenant's request journal on the server?", "Clear journal")) return;
  try {
    await admin(`/tenants/${view.tenant}/requests`, {method: "DELETE"});
    view.list.replaceChildren();
    view.seen.clear();
    updateSummary(view);
    announce("Journal cleared.");
  } catch (error) {
    alertError(error);
  }
}

async function refresh(view) {
  const journal = await admin(`/tenants/${view.tenant}/requests`);
  // The journal lists entries oldest first; each new one goes on top, so the newest ends first.
  for (const entry of journal.value) {
    if (view.seen.has(entry.requestId)) continue;
    view.seen.add(entry.requestId);
    noteApp(view, entry.appId);
    const item = renderEntry(entry, {own: isOwnRequest(entry.requestId), app: view.names.get(entry.appId)});
    item.hidden = !matches(view.filter, item);
    view.list.prepend(item);
  }
  while (view.list.children.length > SHOWN_AT_MOST) view.list.lastElementChild.remove();
  updateSummary(view);
}

// The tenant's registered apps by client id, to name them in the App filter; an app the registry
// does not hold (a token minted by the admin API, say) is shown by its id alone.
async function appNames(tenant) {
  try {
    const {value} = await admin(`/tenants/${tenant}/apps`);
    return new Map(value.map((app) => [app.clientId, app.displayName]));
  } catch {
    return new Map();
  }
}

function noteApp(view, appId) {
  if (!appId || view.apps.has(appId)) return;
  view.apps.add(appId);
  const name = view.names.get(appId);
  view.appSelect.append(h("option", {value: appId}, name ? `${name} (${appId})` : appId));
}

function statusClass(status) {
  return status === null ? "" : `${String(status).charAt(0)}xx`;
}

// A request the client gave up on before its answer has no status: it failed too.
function statusText(status) {
  return status === null ? "No answer" : `${status} ${reason(status)}`;
}

function renderEntry(entry, {own, app}) {
  const failed = entry.status === null || entry.status >= 400;
  const path = entry.query ? `${entry.path}?${decodeQuery(entry.query)}` : entry.path;
  return h("li", {class: `entry${failed ? " failed" : ""}`,
    dataset: {status: statusClass(entry.status), method: entry.method, app: entry.appId ?? "", own: String(own)}},
  h("details", {},
    h("summary", {},
      h("span", {class: `pill ${failed ? "pill-failed" : "pill-ok"}`},
        h("span", {"aria-hidden": "true"}, failed ? "✕ " : "✓ "),
        failed ? "Failed " : "", statusText(entry.status)),
      h("span", {class: "method"}, entry.method),
      h("span", {class: "path"}, path),
      h("span", {class: "meta"}, `${time(entry.time)} · ${Math.round(entry.durationMs)} ms`,
        entry.inBatch ? " · in $batch" : "", own ? " · this console" : "")),
    h("div", {class: "entry-body"},
      h("dl", {class: "properties"},
        h("dt", {}, "Time"), h("dd", {}, h("time", {datetime: entry.time}, instant(entry.time))),
        h("dt", {}, "Request ID"), h("dd", {}, entry.requestId),
        h("dt", {}, "App"), h("dd", {}, app ? `${app} (${entry.appId})` : entry.appId || "Unknown")),
      body("Request body", entry.requestBody),
      body("Response body", entry.responseBody),
      entry.truncated
        ? h("p", {class: "hint"}, "A body was cut: the journal keeps the first 64 KiB of each.")
        : null)));
}

// The journal keeps the query as it was sent; %20 and friends read better decoded.
function decodeQuery(query) {
  try {
    return decodeURIComponent(query.replaceAll("+", " "));
  } catch {
    return query;
  }
}

function body(title, value) {
  return h("div", {class: "body"}, h("h3", {}, title),
    value === null || value === undefined
      ? h("p", {class: "muted"}, "No body")
      : h("pre", {tabindex: "0", "aria-label": title}, pretty(value)));
}

function filterBy(view, key) {
  return (event) => {
    view.filter[key] = event.target.value;
    refilter(view);
  };
}

function refilter(view) {
  for (const item of view.list.children) item.hidden = !matches(view.filter, item);
  updateSummary(view);
}

function matches(filter, item) {
  return (!filter.status || item.dataset.status === filter.status)
    && (!filter.method || item.dataset.method === filter.method)
    && (!filter.app || item.dataset.app === filter.app)
    && !(filter.hideOwn && item.dataset.own === "true");
}

function updateSummary(view) {
  const total = view.list.children.length;
  const shown = [...view.list.children].filter((item) => !item.hidden).length;
  view.summary.textContent = total === 0
    ? "No requests yet. Requests this tenant's apps make appear here."
    : `Showing ${shown} of ${total} requests.`;
}
