// The Faults and throttling view: the server's fault plan as JSON, edited in place. The console checks
// only that the text is JSON; what a plan may say is the server's to judge, and its 400 message is
// shown as it comes (docs/resilience.md, "Fault and latency injection").

import {admin} from "./api.js";
import {h, field, select, announce, alertError, clearAlert, confirmDialog} from "./dom.js";

const EXAMPLE = {seed: 7, rules: [
  {operation: "list_tasks", status: 503, retryAfter: 2, probability: 0.5},
  {operation: "*", latencyMs: [50, 400]},
]};

export async function mount(main, context) {
  const view = build();
  main.replaceChildren(view.root);
  view.root.append(throttleCard(context.tenant));
  await load(view);
  return () => {};
}

function build() {
  const view = {};
  view.version = h("span", {class: "muted"});
  view.error = h("p", {id: "plan-error", class: "error", hidden: true});
  view.editor = h("textarea", {id: "plan", class: "code", rows: 18, spellcheck: "false",
    "aria-describedby": "plan-help plan-error", oninput: () => checkJson(view)});
  view.root = h("section", {class: "view", "aria-labelledby": "view-title"},
    h("div", {class: "view-head"},
      h("h1", {id: "view-title", tabindex: "-1"}, "Faults and throttling"), view.version),
    h("p", {class: "lead"}, "The fault plan in force on every instance of this server: errors and delays " +
      "the Graph API adds to matching requests before it runs them."),
    h("form", {class: "card", onsubmit: (event) => { event.preventDefault(); save(view); }},
      h("label", {for: "plan", class: "label"}, "Fault plan (JSON)"),
      view.editor,
      h("p", {id: "plan-help", class: "hint"},
        "A seed and a list of rules. Each rule has tenant, app and operation (or *), and a status (429, " +
        "500, 503, 504) with an optional retryAfter, a latencyMs (a number or [low, high]), or both; " +
        "probability (0 to 1) and times limit how often it hits. Operations: list_tasks, create_task, " +
        "count_tasks, get_task, update_task, delete_task, update_status and the _child ones."),
      view.error,
      h("div", {class: "actions"},
        h("button", {type: "submit", class: "primary"}, "Save plan"),
        h("button", {type: "button", onclick: () => load(view)}, "Reload"),
        h("button", {type: "button", onclick: () => example(view)}, "Insert an example"),
        h("button", {type: "button", class: "danger", onclick: () => clearPlan(view)}, "Clear all faults"))));
  return view;
}

async function load(view) {
  try {
    const {version, ...plan} = await admin("/faults");
    show(view, version, plan);
  } catch (error) {
    alertError(error);
  }
}

function show(view, version, plan) {
  view.editor.value = JSON.stringify(plan, null, 2);
  view.version.textContent = `Version ${version}`;
  setError(view, "");
}

function example(view) {
  view.editor.value = JSON.stringify(EXAMPLE, null, 2);
  checkJson(view);
  view.editor.focus();
}

function setError(view, message) {
  view.error.textContent = message;
  view.error.hidden = !message;
  view.editor.setAttribute("aria-invalid", String(Boolean(message)));
}

// The text as JSON, or null after saying why it is not.
function checkJson(view) {
  try {
    const plan = JSON.parse(view.editor.value);
    setError(view, "");
    return plan;
  } catch (error) {
    setError(view, `Not JSON: ${error.message}`);
    return null;
  }
}

async function save(view) {
  const plan = checkJson(view);
  if (plan === null) {
    view.editor.focus();
    return;
  }
  try {
    const {version, ...saved} = await admin("/faults", {method: "PUT", body: plan});
    show(view, version, saved);
    clearAlert();
    announce(`Fault plan saved (version ${version}).`);
  } catch (error) {
    // The server's 400 says what is wrong and where (rules[2].status ...): show it by the editor.
    setError(view, error.message);
    view.editor.focus();
  }
}

async function clearPlan(view) {
  if (!await confirmDialog("Remove every fault rule from the server?", "Clear all faults")) return;
  try {
    await admin("/faults", {method: "DELETE"});
    await load(view);
    announce("All faults cleared.");
  } catch (error) {
    alertError(error);
  }
}

// --- throttling ---

// A tenant's throttling profile lives in the memory of the process that took the call; the server
// does not report it back, so this form sets a profile and does not show one.
function throttleCard(tenant) {
  const profile = select([["", "The server's own (its --throttle)"], ["intune", "Intune's limits"],
    ["off", "Off"], ["custom", "Custom limits"]], "");
  const custom = h("input", {type: "text", placeholder: "window=20,tenant_writes=5", autocomplete: "off"});
  const customField = field("Custom limits", custom, "Names and numbers as graphtasks serve --throttle takes them.");
  customField.hidden = true;
  profile.addEventListener("change", () => { customField.hidden = profile.value !== "custom"; });
  const apply = async (event) => {
    event.preventDefault();
    const chosen = profile.value === "custom" ? custom.value.trim() : profile.value || null;
    try {
      await admin(`/tenants/${tenant}/throttle`, {method: "PUT", body: {profile: chosen}});
      announce(`Throttling of this tenant set to ${chosen ?? "the server's own"}.`);
    } catch (error) {
      alertError(error);
    }
  };
  return h("form", {class: "card", "aria-labelledby": "throttle-title", onsubmit: apply},
    h("h2", {id: "throttle-title"}, "Throttling of this tenant"),
    h("p", {class: "hint"},
      `Tenant ${tenant}. The server does not report the profile in force; applying one sets it.`),
    field("Profile", profile), customField,
    h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, "Apply")));
}
