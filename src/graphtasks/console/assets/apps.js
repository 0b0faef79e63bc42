// The Apps and tenants view: the registered tenants with their Intune licence, and the app
// registrations of the tenant shown, which an admin registers, gives a new secret or removes.
// A secret is shown once, as the server answers it, with code that connects with it; the server
// keeps only its hash (README, "App registrations and the token endpoint").

import {admin} from "./api.js";
import {h, field, announce, alertError, clearAlert, confirmDialog, copyText, uid} from "./dom.js";
import {snippets} from "./snippets.js";

// The four application permissions Graph defines for these tasks (README, "Tokens"); the server
// checks the names, this list only offers them.
const PERMISSIONS = [
  "DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All",
  "DeviceManagementConfiguration.Read.All", "DeviceManagementConfiguration.ReadWrite.All",
];

export async function mount(main, context) {
  const view = {tenant: context.tenant, switchTenant: context.switchTenant};
  view.tenants = h("div", {"aria-busy": "true"});
  view.apps = h("div", {"aria-busy": "true"});
  view.secret = h("div");
  view.root = h("section", {class: "view", "aria-labelledby": "view-title"},
    h("h1", {id: "view-title", tabindex: "-1"}, "Apps and tenants"),
    h("section", {class: "card", "aria-labelledby": "tenants-title"},
      h("h2", {id: "tenants-title"}, "Tenants"), view.tenants),
    h("section", {class: "card", "aria-labelledby": "apps-title"},
      h("h2", {id: "apps-title"}, "App registrations of this tenant"),
      h("p", {class: "hint"}, `Tenant ${view.tenant}. Apps trade their secret for a token at `,
        h("code", {}, `${location.origin}/${view.tenant}/oauth2/v2.0/token`), "."),
      view.secret, view.apps, registerForm(view)));
  main.replaceChildren(view.root);
  await Promise.all([showTenants(view), showApps(view)]);
  return () => {};
}

function unavailable(error) {
  // A server older than the registry endpoints answers their paths 404 or 405.
  return [404, 405].includes(error.status)
    ? "This server does not offer the registry endpoints of the admin API."
    : error.message;
}

// A row's buttons show a short word; the rest of their name, which says which row they act on, is
// for screen readers, which read a button out of its row.
function hidden(text) {
  return h("span", {class: "visually-hidden"}, text);
}

// --- tenants ---

async function showTenants(view) {
  try {
    const {value} = await admin("/tenants");
    view.tenants.replaceChildren(tenantTable(view, value));
    // Any tenant id works unregistered (as licensed); registering it gives it a name and a licence.
    if (!value.some((t) => t.tenant === view.tenant)) view.tenants.append(registerTenantForm(view));
  } catch (error) {
    view.tenants.replaceChildren(h("p", {}, unavailable(error)));
  }
  view.tenants.removeAttribute("aria-busy");
}

function tenantTable(view, tenants) {
  return h("div", {class: "table-wrap"}, h("table", {class: "grid"},
    h("caption", {class: "visually-hidden"}, "Registered tenants"),
    h("thead", {}, h("tr", {}, ["Name", "Tenant ID", "Intune licence"].map((c) => h("th", {scope: "col"}, c)),
      h("th", {scope: "col"}, h("span", {class: "visually-hidden"}, "Actions")))),
    h("tbody", {}, tenants.map((tenant) => tenantRow(view, tenant)))));
}

function tenantRow(view, tenant) {
  const shown = tenant.tenant === view.tenant;
  const licence = h("input", {type: "checkbox", checked: tenant.licensed,
    "aria-label": `Intune licence of ${tenant.displayName}`});
  licence.addEventListener("change", () => setLicence(tenant, licence));
  return h("tr", {"aria-current": shown ? "true" : null},
    h("td", {}, tenant.displayName),
    h("td", {}, h("code", {}, tenant.tenant)),
    h("td", {}, h("label", {class: "switch"}, licence, h("span", {}, licence.checked ? "Licensed" : "Not licensed"))),
    h("td", {}, shown ? h("span", {class: "muted"}, "Shown")
      : h("button", {type: "button", onclick: () => view.switchTenant(tenant.tenant)},
        "Show", hidden(` ${tenant.displayName}`))));
}

async function setLicence(tenant, checkbox) {
  const label = checkbox.nextElementSibling;
  try {
    const saved = await admin(`/tenants/${tenant.tenant}`, {method: "PATCH", body: {licensed: checkbox.checked}});
    checkbox.checked = saved.licensed;
    announce(`${tenant.displayName} is now ${saved.licensed ? "licensed" : "not licensed"} for Intune.`);
  } catch (error) {
    checkbox.checked = !checkbox.checked;
    alertError(error);
  }
  label.textContent = checkbox.checked ? "Licensed" : "Not licensed";
}

function registerTenantForm(view) {
  const name = h("input", {type: "text", autocomplete: "off", required: true});
  const submit = async (event) => {
    event.preventDefault();
    try {
      const body = {tenant: view.tenant, displayName: name.value.trim(), licensed: true};
      await admin("/tenants", {method: "POST", body});
      announce(`Tenant ${name.value.trim()} registered.`);
      await showTenants(view);
    } catch (error) {
      alertError(error);
    }
  };
  return h("form", {class: "register", "aria-labelledby": "register-tenant-title", onsubmit: submit},
    h("h3", {id: "register-tenant-title"}, "Register the tenant shown"),
    h("p", {class: "hint"}, `Tenant ${view.tenant} is served (as licensed) but not registered.`),
    field("Display name", name),
    h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, "Register tenant")));
}

// --- apps ---

async function showApps(view) {
  try {
    const {value} = await admin(`/tenants/${view.tenant}/apps`);
    view.apps.replaceChildren(value.length
      ? appTable(view, value)
      : h("p", {}, "No apps are registered in this tenant."));
  } catch (error) {
    view.apps.replaceChildren(h("p", {}, unavailable(error)));
  }
  view.apps.removeAttribute("aria-busy");
}

function appTable(view, apps) {
  const columns = ["Name", "Client ID", "Permissions", "Secret", "Certificates", "Actions"];
  return h("div", {class: "table-wrap"}, h("table", {class: "grid"},
    h("caption", {class: "visually-hidden"}, "App registrations"),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", {}, apps.map((app) => h("tr", {},
      h("td", {}, app.displayName),
      h("td", {}, h("code", {}, app.clientId)),
      h("td", {}, h("ul", {class: "plain"}, app.permissions.map((p) => h("li", {}, p)))),
      h("td", {}, app.secretHint ? h("code", {}, `${app.secretHint}…`) : h("span", {class: "muted"}, "None")),
      h("td", {}, String(app.certificates.length)),
      h("td", {}, h("div", {class: "actions"},
        h("button", {type: "button", onclick: () => rotate(view, app)}, "New secret",
          hidden(` for ${app.displayName}`)),
        h("button", {type: "button", class: "danger", onclick: () => remove(view, app)}, "Remove",
          hidden(` ${app.displayName}`)))))))));
}

function registerForm(view) {
  const name = h("input", {type: "text", autocomplete: "off", placeholder: "graphtasks app"});
  const boxes = PERMISSIONS.map((p) => h("input", {type: "checkbox", value: p, checked: true}));
  const register = async (event) => {
    event.preventDefault();
    const body = {permissions: boxes.filter((b) => b.checked).map((b) => b.value)};
    if (name.value.trim()) body.displayName = name.value.trim();
    try {
      const app = await admin(`/tenants/${view.tenant}/apps`, {method: "POST", body});
      clearAlert();
      name.value = "";
      await showApps(view);
      showSecret(view, app.displayName ?? body.displayName, app.clientId, app.clientSecret);
      announce(`App ${app.displayName} registered. Copy its secret now.`);
    } catch (error) {
      alertError(error);
    }
  };
  return h("form", {class: "register", "aria-labelledby": "register-title", onsubmit: register},
    h("h3", {id: "register-title"}, "Register an app"),
    field("Display name", name),
    h("fieldset", {}, h("legend", {}, "Permissions"),
      boxes.map((box) => h("label", {class: "check"}, box, box.value))),
    h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, "Register app")));
}

async function rotate(view, app) {
  const question = `Give ${app.displayName} a new secret? The current one stops working.`;
  if (!await confirmDialog(question, "New secret")) return;
  try {
    const answer = await admin(`/tenants/${view.tenant}/apps/${app.clientId}/secret`, {method: "POST"});
    await showApps(view);
    showSecret(view, app.displayName, app.clientId, answer.clientSecret);
    announce(`New secret made for ${app.displayName}. Copy it now.`);
  } catch (error) {
    alertError(error);
  }
}

async function remove(view, app) {
  const question = `Remove ${app.displayName}? Its secret and certificates stop working.`;
  if (!await confirmDialog(question, "Remove app")) return;
  try {
    await admin(`/tenants/${view.tenant}/apps/${app.clientId}`, {method: "DELETE"});
    await showApps(view);
    announce(`${app.displayName} removed.`);
  } catch (error) {
    alertError(error);
  }
}

// --- the secret, once ---

function showSecret(view, name, clientId, secret) {
  const code = snippets({origin: location.origin, host: location.hostname, tenant: view.tenant, clientId, secret});
  const titleId = uid("secret");
  const panel = h("section", {class: "secret", "aria-labelledby": titleId},
    h("h3", {id: titleId, tabindex: "-1"}, `Secret of ${name}`),
    h("p", {}, "Copy the secret now: the server keeps only its hash and never shows it again."),
    copyField("Client ID", clientId, "client ID"),
    copyField("Client secret", secret, "client secret"),
    codeBlock("Python (azure-identity and msgraph-beta-sdk)", code.python, "Python snippet"),
    codeBlock("JavaScript (@azure/identity and @microsoft/microsoft-graph-client)", code.javascript,
      "JavaScript snippet"),
    h("div", {class: "actions"}, h("button", {type: "button", onclick: () => {
      view.secret.replaceChildren();
      view.root.querySelector("#apps-title").focus?.();
    }}, "Done")));
  view.secret.replaceChildren(panel);
  panel.querySelector("h3").focus();
}

function copyButton(what, text) {
  return h("button", {type: "button", onclick: async () => {
    try {
      await copyText(text);
      announce(`Copied the ${what}.`);
    } catch (error) {
      alertError(error);
    }
  }}, `Copy the ${what}`);
}

function copyField(label, text, what) {
  const input = h("input", {type: "text", readonly: true, value: text, class: "code", spellcheck: "false"});
  return h("div", {class: "copy-field"}, field(label, input), copyButton(what, text));
}

function codeBlock(title, text, what) {
  const titleId = uid("code");
  return h("div", {class: "code-block"},
    h("h4", {id: titleId}, title),
    h("pre", {tabindex: "0", "aria-labelledby": titleId}, h("code", {}, text)),
    copyButton(what, text));
}
