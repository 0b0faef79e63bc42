// Graph's values as people read them: enum members and property names in words, dates and numbers in
// the browser's locale. Wire names stay what they are everywhere else in the console.

// Words that camelCase splitting gets wrong: product names and abbreviations.
const WORDS = {
  macOS: "macOS",
  windows10AndWindowsServer: "Windows 10 and Windows Server",
  bitLocker: "BitLocker",
  fileVault: "FileVault",
  createdDateTime: "Created",
  dueDateTime: "Due date",
  lastSyncDateTime: "Last sync",
  lastSeenDateTime: "Last seen",
  lastModifiedDateTime: "Last modified",
  managedDeviceCount: "Managed devices",
  mobileAppCount: "Mobile apps",
  displayName: "Name",
  id: "ID",
};
const ACRONYMS = new Set(["os", "ip", "mac", "id"]);
// Graph's default for a due date that was never set (docs/graph-behaviour.md, "Resource family").
const NO_DATE = "0001-01-01T00:00:00Z";

// "advancedThreatProtection" -> "Advanced threat protection"; "windows10AndLater" -> "Windows 10 and later".
export function words(name) {
  if (name === null || name === undefined || name === "") return "";
  if (WORDS[name]) return WORDS[name];
  const parts = name.replace(/([a-z])([A-Z0-9])/g, "$1 $2").replace(/([0-9])([A-Za-z])/g, "$1 $2")
    .split(" ").map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w.toLowerCase()));
  const text = parts.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// "#microsoft.graph.securityConfigurationTask" -> "securityConfigurationTask".
export function typeName(odataType) {
  return (odataType ?? "").replace(/^#?microsoft\.graph\./, "");
}

export function typeLabel(odataType) {
  return words(typeName(odataType));
}

const dateFormat = new Intl.DateTimeFormat(undefined, {dateStyle: "medium"});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});
const timeFormat = new Intl.DateTimeFormat(undefined, {timeStyle: "medium"});
const instantFormat = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "medium"});
const numberFormat = new Intl.NumberFormat();

// A date, or "Not set" for Graph's year-1 default.
export function date(iso, {withTime = false} = {}) {
  if (!iso || isUnset(iso)) return "Not set";
  const value = new Date(iso);
  return Number.isNaN(value.getTime()) ? iso : (withTime ? dateTimeFormat : dateFormat).format(value);
}

export function isUnset(iso) {
  return !iso || iso.startsWith("0001-01-01") || iso === NO_DATE;
}

export function time(iso) {
  return timeFormat.format(new Date(iso));
}

// A moment to the second, date included, for the journal's details.
export function instant(iso) {
  return instantFormat.format(new Date(iso));
}

export function number(value) {
  return typeof value === "number" ? numberFormat.format(value) : String(value ?? "");
}

// A date as an <input type=date> value, in the browser's time zone.
export function dateInputValue(iso) {
  if (isUnset(iso)) return "";
  const value = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${value.getFullYear()}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
}

// An <input type=date> value as the instant it starts in the browser's time zone: the day the admin
// picked stays that day when the console shows it back.
export function dateFromInput(value) {
  const [year, month, day] = value.split("-").map(Number);
  return new Date(year, month - 1, day).toISOString();
}

// HTTP status words for the journal, so a failure reads as one without its colour.
const REASONS = {
  200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
  401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
  412: "Precondition Failed", 413: "Payload Too Large", 415: "Unsupported Media Type",
  424: "Failed Dependency", 429: "Too Many Requests", 500: "Internal Server Error",
  503: "Service Unavailable", 504: "Gateway Timeout",
};

export function reason(status) {
  return REASONS[status] ?? "";
}
