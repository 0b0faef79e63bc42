// A task's page: every property in words, the intended settings and other collections as tables,
// the navigation collections its type has, status changes through updateStatus with a note, the
// assignee and due date edited with PATCH, and the raw Graph JSON.
//
// Which status changes are offered follows Intune's Security tasks: a pending task is accepted (it
// becomes active) or rejected; an active one is completed or rejected; a completed or rejected task is
// closed. A task whose status is "unknown" was never triaged, so it counts as pending.
// Writes send the task's ETag in If-Match, so an admin never overwrites a change they have not seen.

import {TASKS, graph} from "./api.js";
import {h, field, announce, alertError, clearAlert, pretty} from "./dom.js";
import {date, dateFromInput, dateInputValue, number, typeLabel, typeName, words} from "./format.js";
import {loadModel} from "./model.js";

const ACTIONS = [
  {status: "active", label: "Accept", from: ["pending", "unknown"], done: "Task accepted."},
  {status: "rejected", label: "Reject", from: ["pending", "unknown", "active"], done: "Task rejected."},
  {status: "completed", label: "Complete", from: ["active"], done: "Task completed."},
];
// The note of the last updateStatus is a graphtasks annotation, sent only when asked for.
const WITH_NOTE = {Prefer: 'odata.include-annotations="graphtasks.statusNote"'};
const CHILDREN_PAGE = 20;
const FOCUS = {title: "#view-title", status: "#task-status", assignment: "#assignment-title"};

export async function mount(main, context, id) {
  const model = await loadModel();
  const page = {main, tenant: context.tenant, id, model, task: null};
  await load(page);
  return () => {};
}

function taskUrl(page) {
  return `${TASKS}/${encodeURIComponent(page.id)}`;
}

async function load(page, {focus = "title"} = {}) {
  try {
    page.task = await graph(page.tenant, taskUrl(page), {headers: WITH_NOTE});
  } catch (error) {
    page.main.replaceChildren(h("section", {class: "view"}, backLink(),
      h("h1", {id: "view-title", tabindex: "-1"}, "Task not available"), h("p", {}, error.message)));
    alertError(error);
    return;
  }
  render(page);
  document.title = `${page.task.displayName || "Task"} · graphtasks console`;
  // After a change, the focus goes back to what changed, not to the top of the page.
  page.main.querySelector(FOCUS[focus])?.focus();
}

function backLink() {
  return h("p", {class: "back"}, h("a", {href: "#/tasks"}, "← Security tasks"));
}

function render(page) {
  const {task, model} = page;
  const type = typeName(task["@odata.type"]);
  const properties = model.properties(type);
  page.main.replaceChildren(h("section", {class: "view task", "aria-labelledby": "view-title"},
    backLink(),
    h("div", {class: "view-head"},
      h("h1", {id: "view-title", tabindex: "-1"}, task.displayName || "(no name)"),
      h("span", {class: `badge status-${task.status}`}, words(task.status))),
    h("p", {class: "subtitle"}, `${typeLabel(task["@odata.type"])} · ID ${task.id}`),
    h("div", {class: "cards"}, statusCard(page), assignmentCard(page)),
    propertiesCard(model, task, properties.filter((p) => !p.collection)),
    properties.filter((p) => p.collection).map((p) => complexTable(model, p, task[p.name] ?? [])),
    model.navigation(type).map((nav) => navigationSection(page, nav)),
    h("details", {class: "card raw"}, h("summary", {}, "Graph JSON"),
      h("pre", {tabindex: "0", "aria-label": "The task as Graph returns it"}, pretty(task)))));
}

// --- status ---

function statusCard(page) {
  const {task} = page;
  const note = h("textarea", {rows: 3});
  const hint = "Accept a pending task to start on it, complete an active one, or reject either.";
  const buttons = ACTIONS.map((action) => h("button", {
    type: "button", class: action.status === "rejected" ? "danger" : "primary",
    disabled: !action.from.includes(task.status),
    onclick: () => changeStatus(page, action, note.value),
  }, action.label));
  const lastNote = task["@graphtasks.statusNote"];
  return h("section", {class: "card", "aria-labelledby": "status-title"},
    h("h2", {id: "status-title"}, "Status"),
    h("p", {id: "task-status", tabindex: "-1"},
      "This task is ", h("strong", {}, words(task.status).toLowerCase()), "."),
    lastNote ? h("p", {class: "note"}, "Last note: ", h("q", {}, lastNote)) : null,
    field("Note (sent with the status change)", note),
    h("div", {class: "actions", role: "group", "aria-label": "Change the status"}, buttons),
    h("p", {class: "hint"}, hint));
}

async function changeStatus(page, action, note) {
  clearAlert();
  try {
    await graph(page.tenant, `${taskUrl(page)}/updateStatus`, {
      method: "POST", body: {status: action.status, note}, headers: {"If-Match": page.task["@odata.etag"]},
    });
    announce(action.done);
  } catch (error) {
    alertError(conflictMessage(error));
  }
  await load(page, {focus: "status"});
}

function conflictMessage(error) {
  return error.status === 412
    ? new Error("The task changed since this page showed it; it now shows the task as it is.")
    : error;
}

// --- assignee and due date ---

function assignmentCard(page) {
  const {task} = page;
  const assignee = h("input", {type: "text", value: task.assignedTo ?? "", autocomplete: "off"});
  const due = h("input", {type: "date", value: dateInputValue(task.dueDateTime)});
  const save = async (event) => {
    event.preventDefault();
    clearAlert();
    const body = {assignedTo: assignee.value.trim() || null};
    // dueDateTime may not be null: an emptied date leaves the stored one as it is.
    if (due.value) body.dueDateTime = dateFromInput(due.value);
    try {
      await graph(page.tenant, taskUrl(page), {
        method: "PATCH", body, headers: {"If-Match": page.task["@odata.etag"]},
      });
      announce("Assignment saved.");
    } catch (error) {
      alertError(conflictMessage(error));
    }
    await load(page, {focus: "assignment"});
  };
  return h("section", {class: "card", "aria-labelledby": "assignment-title"},
    h("h2", {id: "assignment-title", tabindex: "-1"}, "Assignment"),
    h("form", {onsubmit: save},
      field("Assigned to", assignee),
      field("Due date", due, "Leave empty to keep the current due date."),
      h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, "Save"))));
}

// --- properties ---

function propertiesCard(model, task, properties) {
  return h("section", {class: "card", "aria-labelledby": "properties-title"},
    h("h2", {id: "properties-title"}, "Properties"),
    h("dl", {class: "properties"}, properties.map((p) => [
      h("dt", {title: p.description}, words(p.name)),
      h("dd", {}, value(model, p, task[p.name])),
    ])));
}

function value(model, property, raw) {
  if (raw === null || raw === undefined || raw === "") return h("span", {class: "muted"}, "Not set");
  if (model.isEnum(property.type)) return words(raw);
  if (property.edm === "Edm.DateTimeOffset") return h("time", {datetime: raw}, date(raw, {withTime: true}));
  if (property.edm === "Edm.Int32") return number(raw);
  return String(raw);
}

function table(model, caption, typeName, rows) {
  const columns = model.properties(typeName);
  return h("div", {class: "table-wrap"}, h("table", {class: "grid"},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", {scope: "col", title: c.description}, words(c.name))))),
    h("tbody", {}, rows.length
      ? rows.map((row) => h("tr", {},
        columns.map((c) => h("td", {}, row === null ? "" : value(model, c, row[c.name])))))
      : h("tr", {}, h("td", {colspan: columns.length, class: "empty"}, "None")))));
}

function complexTable(model, property, rows) {
  return h("section", {class: "card"}, table(model, `${words(property.name)} (${rows.length})`, property.type, rows));
}

// A navigation collection, a page at a time; "Show more" follows the collection's nextLink.
function navigationSection(page, nav) {
  const section = h("section", {class: "card", "aria-busy": "true"},
    h("p", {}, `Loading ${words(nav.name).toLowerCase()}…`));
  const rows = [];
  const more = async (url) => {
    try {
      const answer = await graph(page.tenant, url);
      rows.push(...answer.value);
      const next = answer["@odata.nextLink"];
      const caption = `${words(nav.name)} (${rows.length}${next ? "+" : ""})`;
      section.replaceChildren(table(page.model, caption, nav.target, rows));
      if (next) section.append(h("button", {type: "button", onclick: () => more(next)}, "Show more"));
    } catch (error) {
      section.replaceChildren(h("p", {}, `${words(nav.name)} could not be read: ${error.message}`));
    }
    section.removeAttribute("aria-busy");
  };
  more(`${taskUrl(page)}/${nav.name}?$top=${CHILDREN_PAGE}`);
  return section;
}
