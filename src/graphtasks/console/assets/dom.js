// Building and updating the page: elements, status messages, dialogs, copying and polling.
// Every text goes in through textContent, never innerHTML, so nothing a task or a request body holds
// can become markup.

// h("a", {href: "#/x", class: "y", onclick: f}, "text", child): an element with its attributes,
// event handlers (on...) and children; null, false and undefined children are left out.
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name in element && typeof value !== "string") {
      element[name] = value; // properties such as checked, disabled, value
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  element.append(...flatten(children));
  return element;
}

function flatten(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : String(c)));
}

let nextId = 0;
// A page-unique id, to tie labels, descriptions and errors to their controls.
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// A labelled control: <div class="field"><label>...</label> control</div>.
export function field(label, control, hint = null) {
  control.id ||= uid("field");
  const parts = [h("label", {for: control.id}, label), control];
  if (hint) {
    const hintId = uid("hint");
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", {id: hintId, class: "hint"}, hint));
  }
  return h("div", {class: "field"}, parts);
}

// A <select> of [value, text] pairs with `selected` chosen.
export function select(options, selected, props = {}) {
  return h("select", props,
    options.map(([value, text]) => h("option", {value, selected: value === selected}, text)));
}

// Status messages go to the footer's live regions: polite for results, assertive for errors, so a
// screen reader hears what a button did without the focus moving.
export function announce(message) {
  const region = document.getElementById("status");
  region.textContent = "";
  // A new text node in an emptied region is what makes every screen reader speak a repeated message.
  requestAnimationFrame(() => { region.textContent = message; });
  document.getElementById("alert").textContent = "";
}

export function alertError(error) {
  document.getElementById("alert").textContent = error instanceof Error ? error.message : String(error);
}

export function clearAlert() {
  document.getElementById("alert").textContent = "";
}

// A modal question with OK and Cancel; resolves true on OK. <dialog> keeps the focus inside itself
// and gives Escape for cancel.
export function confirmDialog(question, okText) {
  return new Promise((resolve) => {
    const ok = h("button", {type: "submit", value: "ok", class: "danger"}, okText);
    const cancel = h("button", {type: "submit", value: "cancel"}, "Cancel");
    const text = h("p", {id: uid("dialog")}, question);
    const dialog = h("dialog", {"aria-describedby": text.id, "aria-label": okText},
      h("form", {method: "dialog"}, text, h("div", {class: "actions"}, cancel, ok)));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

// Put `text` on the clipboard. The Clipboard API needs a secure context (HTTPS or loopback); a console
// opened over plain HTTP on another address falls back to copying a selected hidden textarea.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = h("textarea", {readonly: true, class: "offscreen", "aria-hidden": "true"}, text);
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

// Run `task` now and then every `intervalMs` after each run ends (so slow answers never pile up),
// until stop() is called. Skips runs while the tab is hidden: nobody is looking.
export function poll(task, intervalMs) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await task();
      } catch (error) {
        alertError(error);
      }
    }
    if (!stopped) timer = setTimeout(run, intervalMs);
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// JSON as people read it: indented, or the text itself when it is not an object.
export function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}
