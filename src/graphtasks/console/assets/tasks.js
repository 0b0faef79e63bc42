// The Security tasks view: the tenant's tasks as a table, with filters, a name search, sorting by
// column, paging through the API's own @odata.nextLink, and counts by status kept live.
// Everything is asked of the Graph API as any client would ask it: $filter, $orderby, $top,
// $count=true; the console holds one page at a time.

import {TASKS, batch, graph} from "./api.js";
import {h, field, select, poll, alertError, clearAlert} from "./dom.js";
import {date, typeLabel, words} from "./format.js";
import {loadModel, BASE_TASK} from "./model.js";

const COUNTS_EVERY_MS = 5000;
const PAGE_SIZES = [10, 25, 50, 100];
const COLUMNS = [
  {key: "displayName", label: "Name", sortable: true},
  {key: "@odata.type", label: "Type", sortable: false},
  {key: "status", label: "Status", sortable: true},
  {key: "priority", label: "Priority", sortable: true},
  {key: "assignedTo", label: "Assigned to", sortable: true},
  {key: "dueDateTime", label: "Due date", sortable: true},
  {key: "createdDateTime", label: "Created", sortable: true},
];
const SELECT = "id,displayName,status,priority,assignedTo,dueDateTime,createdDateTime";

// The list's state outlives the view, so coming back from a task finds the same filters and page.
let state = null;

function freshState(tenant) {
  return {
    tenant, status: "", priority: "", type: "", platform: "", search: "", size: 25,
    sort: {key: "createdDateTime", descending: true},
    // pages[i] is the URL of page i: the first is built from the options, the others are the
    // nextLinks the API gave, kept so "Previous" goes back to exactly the page seen.
    pages: [], index: 0,
  };
}

export async function mount(main, context) {
  if (state?.tenant !== context.tenant) state = freshState(context.tenant);
  const model = await loadModel();
  const view = build(model);
  main.replaceChildren(view.root);
  const stopCounts = poll(() => refreshCounts(model, view), COUNTS_EVERY_MS);
  view.reload = () => {
    state.pages = [firstPage(model)];
    state.index = 0;
    markPressed(view);
    refreshCounts(model, view).catch(alertError);
    return showPage(view);
  };
  if (!state.pages.length) state.pages = [firstPage(model)];
  await showPage(view);
  return stopCounts;
}

// --- the request ---

function quote(text) {
  return text.replaceAll("'", "''"); // OData URL conventions: a quote inside a string literal is doubled
}

function clauses(model, {withStatus}) {
  const found = [];
  if (withStatus && state.status) found.push(`status eq '${state.status}'`);
  if (state.priority) found.push(`priority eq '${state.priority}'`);
  if (state.type) found.push(`isof('microsoft.graph.${state.type}')`);
  if (state.platform) {
    // A derived type's property needs its cast on the base collection; on other types it is null.
    const owner = model.owner("applicablePlatform");
    found.push(`microsoft.graph.${owner.type}/applicablePlatform eq '${state.platform}'`);
  }
  if (state.search) {
    // contains() is case-sensitive; a search box is expected not to be.
    found.push(`contains(tolower(displayName),'${quote(state.search.toLowerCase())}')`);
  }
  return found.join(" and ");
}

function query(options) {
  return Object.entries(options).filter(([, value]) => value !== "" && value !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join("&");
}

function firstPage(model) {
  const order = `${state.sort.key} ${state.sort.descending ? "desc" : "asc"}`;
  return `${TASKS}?${query({
    $top: state.size, $count: "true", $select: SELECT, $orderby: order,
    $filter: clauses(model, {withStatus: true}),
  })}`;
}

// --- the view ---

function build(model) {
  const view = {};
  view.counts = h("ul", {class: "counts", "aria-label": "Tasks by status"});
  view.summary = h("p", {class: "summary", "aria-live": "polite"});
  view.body = h("tbody");
  view.head = h("tr");
  view.caption = h("caption", {class: "visually-hidden"});
  view.pageButtons = h("div", {class: "actions"});
  view.root = h("section", {class: "view", "aria-labelledby": "view-title"},
    h("div", {class: "view-head"},
      h("h1", {id: "view-title", tabindex: "-1"}, "Security tasks"),
      h("button", {type: "button", onclick: () => view.reload()}, "Refresh")),
    view.counts,
    filters(model, view),
    view.summary,
    h("div", {class: "table-wrap"}, h("table", {class: "grid"}, view.caption, h("thead", {}, view.head),
      view.body)),
    h("nav", {class: "pager", "aria-label": "Pages of tasks"}, view.pageButtons, pageSize(view)));
  renderHead(view);
  buildCounts(model, view);
  buildPager(view);
  return view;
}

function options(model, enumName, all) {
  return [["", all], ...model.members(enumName).filter((m) => m !== "unknown").map((m) => [m, words(m)])];
}

function filters(model, view) {
  const change = (key) => (event) => {
    state[key] = event.target.value;
    view.reload();
  };
  view.statusSelect = select(options(model, "deviceAppManagementTaskStatus", "All statuses"), state.status,
    {onchange: change("status")});
  const types = model.taskTypes().filter((t) => t !== BASE_TASK).map((t) => [t, words(t)]);
  const search = h("input", {type: "search", value: state.search, autocomplete: "off"});
  let timer = null;
  const searchNow = () => {
    clearTimeout(timer);
    state.search = search.value.trim();
    view.reload();
  };
  // Search as the admin types, once they pause: one request per word, not one per key.
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(searchNow, 300);
  });
  const submit = (event) => {
    event.preventDefault();
    searchNow();
  };
  return h("form", {class: "filters", role: "search", "aria-label": "Filter tasks", onsubmit: submit},
  field("Search by name", search),
  field("Status", view.statusSelect),
  field("Priority", select(options(model, "deviceAppManagementTaskPriority", "All priorities"),
    state.priority, {onchange: change("priority")})),
  field("Type", select([["", "All types"], ...types], state.type, {onchange: change("type")})),
  field("Platform", select(options(model, "endpointSecurityConfigurationApplicablePlatform", "All platforms"),
    state.platform, {onchange: change("platform")})));
}

function pageSize(view) {
  const sizes = select(PAGE_SIZES.map((n) => [String(n), String(n)]), String(state.size), {
    onchange: (event) => { state.size = Number(event.target.value); view.reload(); },
  });
  return h("div", {class: "page-size"}, field("Per page", sizes));
}

function renderHead(view) {
  view.head.replaceChildren(...COLUMNS.map((column) => {
    const sorted = state.sort.key === column.key;
    const direction = state.sort.descending ? "descending" : "ascending";
    const th = h("th", {scope: "col", "aria-sort": sorted ? direction : null});
    if (!column.sortable) {
      th.textContent = column.label;
      return th;
    }
    const arrow = sorted ? (state.sort.descending ? "▼" : "▲") : "";
    th.append(h("button", {type: "button", class: "sort", onclick: () => sortBy(view, column.key)},
      column.label, h("span", {"aria-hidden": "true", class: "arrow"}, arrow)));
    return th;
  }));
  const key = COLUMNS.find((c) => c.key === state.sort.key).label;
  const direction = state.sort.descending ? "descending" : "ascending";
  view.caption.textContent = `Security tasks, sorted by ${key}, ${direction}`;
}

function sortBy(view, key) {
  const descending = state.sort.key === key ? !state.sort.descending : false;
  state.sort = {key, descending};
  renderHead(view);
  view.head.querySelector("th[aria-sort] button").focus();
  view.reload();
}

let shown = 0; // which showPage answer is the latest, so a slow earlier one never overwrites it

async function showPage(view) {
  const ticket = ++shown;
  view.body.setAttribute("aria-busy", "true");
  try {
    const page = await graph(state.tenant, state.pages[state.index]);
    if (ticket !== shown) return;
    clearAlert();
    if (page["@odata.nextLink"]) state.pages[state.index + 1] = page["@odata.nextLink"];
    else state.pages.length = state.index + 1;
    renderRows(view, page.value);
    renderSummary(view, page);
  } catch (error) {
    if (ticket !== shown) return;
    view.body.replaceChildren(wholeRow(`The tasks could not be read: ${error.message}`));
    alertError(error);
  } finally {
    view.body.removeAttribute("aria-busy");
  }
  renderPager(view);
}

function wholeRow(text) {
  return h("tr", {}, h("td", {colspan: COLUMNS.length, class: "empty"}, text));
}

function renderRows(view, tasks) {
  if (!tasks.length) {
    view.body.replaceChildren(wholeRow("No tasks match these filters."));
    return;
  }
  view.body.replaceChildren(...tasks.map((task) => h("tr", {},
    h("td", {}, h("a", {href: `#/tasks/${encodeURIComponent(task.id)}`}, task.displayName || "(no name)")),
    h("td", {}, typeLabel(task["@odata.type"])),
    h("td", {}, h("span", {class: `badge status-${task.status}`}, words(task.status))),
    h("td", {}, words(task.priority)),
    h("td", {}, task.assignedTo || "Unassigned"),
    h("td", {}, date(task.dueDateTime)),
    h("td", {}, date(task.createdDateTime, {withTime: true})))));
}

function renderSummary(view, page) {
  const total = page["@odata.count"];
  const first = state.index * state.size + 1;
  const last = first + page.value.length - 1;
  view.summary.textContent = page.value.length
    ? `Showing ${first}–${last} of ${total} tasks (page ${state.index + 1})`
    : "No tasks match these filters.";
}

// The buttons are made once and updated, so the focus stays on "Next" while paging through.
function buildPager(view) {
  const go = (step) => () => {
    state.index += step;
    showPage(view); // the summary above the table, a live region, says which page this is
  };
  view.previous = h("button", {type: "button", onclick: go(-1)}, "Previous");
  view.next = h("button", {type: "button", onclick: go(1)}, "Next");
  view.pageNumber = h("span", {class: "page-number"});
  view.pageButtons.append(view.previous, view.pageNumber, view.next);
}

function renderPager(view) {
  view.previous.disabled = state.index === 0;
  view.next.disabled = state.index + 1 >= state.pages.length;
  view.pageNumber.textContent = `Page ${state.index + 1}`;
}

// --- counts by status ---

// The chips are made once and updated in place, so a refresh never takes the focus from one.
function buildCounts(model, view) {
  view.chips = new Map();
  for (const status of ["", ...statuses(model)]) {
    const value = h("span", {class: "count-value"}, "…");
    const chip = h("button", {
      type: "button", class: `count status-${status || "all"}`,
      onclick: () => { state.status = status; view.statusSelect.value = status; view.reload(); },
    }, h("span", {class: "count-label"}, status ? words(status) : "All"), value);
    view.chips.set(status, {chip, value});
    view.counts.append(h("li", {}, chip));
  }
  markPressed(view);
}

function markPressed(view) {
  for (const [status, {chip}] of view.chips) chip.setAttribute("aria-pressed", String(state.status === status));
}

function statuses(model) {
  return model.members("deviceAppManagementTaskStatus").filter((s) => s !== "unknown");
}

let counted = 0; // as `shown`, for the counts

// One $batch per refresh: each status's count over the other filters, with $count=true&$top=0 so no
// task is read.
async function refreshCounts(model, view) {
  const others = clauses(model, {withStatus: false});
  const all = ["", ...statuses(model)];
  const requests = all.map((status, index) => {
    const filter = [others, status && `status eq '${status}'`].filter(Boolean).join(" and ");
    return {id: String(index), method: "GET",
      url: `${TASKS}?${query({$count: "true", $top: 0, $filter: filter})}`};
  });
  const ticket = ++counted;
  const answers = await batch(state.tenant, requests);
  if (ticket !== counted) return; // the filters changed meanwhile: a newer count is on its way
  all.forEach((status, index) => {
    const count = answers.get(String(index))?.body?.["@odata.count"];
    view.chips.get(status).value.textContent = count === undefined ? "?" : String(count);
  });
}
