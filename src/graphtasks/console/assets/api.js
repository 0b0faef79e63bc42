// Every call the console makes to the server: its session, the admin API and the Graph API.
// The console is an ordinary client: it mints a Graph token for the tenant it shows through the admin
// API and sends it as a bearer token, so it can do nothing another client could not.

export const GRAPH = "/beta";
// The task collection, under /beta for graph() and as $batch's relative URLs name it.
export const TASKS = "/deviceAppManagement/deviceAppManagementTasks";
const ADMIN = "/graphtasks/admin";
// Mint a new token this long before the old one expires, so no request leaves with a token that
// lapses on its way.
const TOKEN_MARGIN_MS = 60_000;

// A failed call: the HTTP status and, for Graph-shaped errors, Graph's code and message.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let session = null;
const tokens = new Map(); // tenant -> {token, expiresAt}
// The request ids of the Graph requests this page made, so the Requests view can tell the console's
// own traffic (its list, its live counts) from the traffic of the apps an admin is watching.
const ownRequests = new Set();
const OWN_REQUESTS_KEPT = 5000;

export function isOwnRequest(requestId) {
  return ownRequests.has(requestId);
}

function noteOwn(requestId) {
  if (!requestId) return;
  ownRequests.add(requestId);
  // A Set iterates in insertion order: the first one is the oldest.
  if (ownRequests.size > OWN_REQUESTS_KEPT) ownRequests.delete(ownRequests.values().next().value);
}

export function currentSession() {
  return session;
}

export async function loadSession() {
  session = await send("/console/session");
  return session;
}

export async function signIn(adminKey) {
  session = await send("/console/session", {method: "POST", body: {adminKey}});
  tokens.clear();
  return session;
}

export async function signOut() {
  await send("/console/session", {method: "DELETE", headers: csrf()});
  tokens.clear();
  return loadSession();
}

// An admin API call (path under /graphtasks/admin). A cookie session needs its anti-forgery token in
// a header; on a loopback bind there is none and none is needed.
export async function admin(path, options = {}) {
  try {
    return await send(ADMIN + path, {...options, headers: {...csrf(), ...options.headers}});
  } catch (error) {
    // The session ended (it lasts a working day, or the server's key changed): ask for the key again.
    if (error instanceof ApiError && error.status === 401) {
      window.dispatchEvent(new CustomEvent("console:signed-out"));
    }
    throw error;
  }
}

// A Graph call for `tenant`. `path` is under /beta, or a whole @odata.nextLink. A 401 means the
// token lapsed or the server's key changed: mint once more and retry.
export async function graph(tenant, path, options = {}) {
  const url = path.startsWith("http") ? sameOrigin(path) : GRAPH + path;
  try {
    return await send(url, {...options, headers: {...await bearer(tenant), ...options.headers}});
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    tokens.delete(tenant);
    return send(url, {...options, headers: {...await bearer(tenant), ...options.headers}});
  }
}

// The Graph answers' nextLinks name the address the server was reached at, or its --base-url; the
// page asks its own origin, where its token and session are.
function sameOrigin(link) {
  const url = new URL(link);
  return url.pathname + url.search;
}

async function bearer(tenant) {
  let held = tokens.get(tenant);
  if (!held || held.expiresAt - TOKEN_MARGIN_MS < Date.now()) {
    const minted = await admin("/tokens", {method: "POST", body: {tenant}});
    held = {token: minted.access_token, expiresAt: Date.now() + minted.expires_in * 1000};
    tokens.set(tenant, held);
  }
  return {Authorization: `Bearer ${held.token}`};
}

function csrf() {
  return session?.csrfToken ? {"X-CSRF-Token": session.csrfToken} : {};
}

// fetch with JSON in and out; a non-2xx answer throws ApiError with the server's own message.
async function send(url, {method = "GET", body, headers = {}} = {}) {
  const init = {method, headers: {Accept: "application/json", ...headers}, credentials: "same-origin"};
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, init);
  if (url.startsWith(GRAPH)) noteOwn(response.headers.get("request-id"));
  const text = await response.text();
  const parsed = text ? parse(text) : null;
  if (!response.ok) throw failure(response, parsed);
  return parsed;
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function failure(response, parsed) {
  const error = parsed?.error;
  if (error && typeof error === "object") {
    return new ApiError(response.status, error.code, error.message || `${response.status} ${error.code}`);
  }
  const message = typeof parsed === "string" && parsed ? parsed : response.statusText;
  return new ApiError(response.status, null, `${response.status} ${message}`);
}

// Graph's /$batch: several requests in one round trip; answers keyed by id.
export async function batch(tenant, requests) {
  const answer = await graph(tenant, "/$batch", {method: "POST", body: {requests}});
  for (const response of answer.responses) noteOwn(response.headers?.["request-id"]);
  return new Map(answer.responses.map((r) => [r.id, r]));
}
