// One task's life cycle through @azure/identity's ClientSecretCredential and the Graph JavaScript client
// (@microsoft/microsoft-graph-client), built as production code builds them but for the authority host,
// the base URL and customHosts. Prints one JSON object: what each step answered, or the error it raised.
// tests/e2e/test_javascript_client.py runs it and judges every step; this script judges nothing.

import { ClientSecretCredential } from "@azure/identity";
import { Client, GraphError, PageIterator } from "@microsoft/microsoft-graph-client";
// The package has no "exports" map and ES modules do not resolve a folder to its index.js: name the file.
import { TokenCredentialAuthenticationProvider } from
  "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";

const SCOPES = ["https://graph.microsoft.com/.default"];
const TASKS = "/deviceAppManagement/deviceAppManagementTasks";

function setting(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const origin = setting("GRAPHTASKS_ORIGIN"); // https://localhost:PORT, no path
const seed = JSON.parse(setting("GRAPHTASKS_SEED"));
const pagingTasks = Number(setting("GRAPHTASKS_PAGING_TASKS"));
const pageSize = Number(setting("GRAPHTASKS_PAGE_SIZE"));

const credential = new ClientSecretCredential(
  setting("GRAPHTASKS_TENANT"),
  setting("GRAPHTASKS_CLIENT_ID"),
  setting("GRAPHTASKS_CLIENT_SECRET"),
  // Instance discovery would ask login.microsoftonline.com whether it knows this authority host.
  { authorityHost: origin, disableInstanceDiscovery: true },
);

function graphClient(customHosts) {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(credential, { scopes: SCOPES }),
    baseUrl: origin,
    defaultVersion: "beta",
    // The AuthenticationHandler attaches the token only to https URLs whose host name (port left out)
    // is one of Graph's own or in customHosts; to any other host it sends no Authorization header.
    ...(customHosts ? { customHosts } : {}),
  });
}

const client = graphClient(new Set([new URL(origin).hostname]));
const report = {};

// Runs one step, keeping its answer or the error it raised, so that one failure leaves the others'
// outcomes in the report. A 204's answer is undefined, which JSON.stringify would drop: it becomes null.
async function step(name, action) {
  try {
    report[name] = { answer: (await action()) ?? null };
  } catch (error) {
    report[name] = { error: describe(error) };
  }
}

function describe(error) {
  return {
    isGraphError: error instanceof GraphError,
    name: error?.name,
    statusCode: error?.statusCode,
    code: error?.code,
    message: error?.message,
  };
}

function claims(token) {
  const payload = token.split(".")[1];
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
}

async function walkPages() {
  const created = [];
  for (let i = 0; i < pagingTasks; i += 1) {
    const name = `js-page-${String(i).padStart(2, "0")}`;
    created.push((await client.api(TASKS).post({ ...seed, displayName: name })).id);
  }
  const first = await client.api(TASKS).filter("startswith(displayName, 'js-page-')").top(pageSize).get();
  const seen = [];
  const iterator = new PageIterator(client, first, (task) => {
    seen.push(task.id);
    return true; // keep going, through every @odata.nextLink
  });
  await iterator.iterate();
  return {
    created,
    firstPage: first.value.length,
    firstNextLink: first["@odata.nextLink"] ?? null,
    seen,
    complete: iterator.isComplete(),
  };
}

async function main() {
  let id = null;
  const item = () => `${TASKS}/${id}`;
  await step("token", async () => claims((await credential.getToken(SCOPES)).token));
  await step("create", async () => {
    const created = await client.api(TASKS).post(seed);
    id = created.id;
    return created;
  });
  await step("get", () => client.api(item()).get());
  await step("list", () =>
    client
      .api(TASKS)
      .filter(`displayName eq '${seed.displayName}'`)
      .select(["id", "displayName", "status"])
      .top(5)
      .get(),
  );
  await step("count", () => client.api(`${TASKS}/$count`).get());
  await step("patch", async () => ({
    reply: (await client.api(item()).patch({ assignedTo: "secops@contoso.com" })) ?? null,
    after: await client.api(item()).get(),
  }));
  const status = { status: "completed", note: "patched" };
  await step("updateStatus", async () => ({
    reply: (await client.api(`${item()}/updateStatus`).post(status)) ?? null,
    after: await client.api(item()).get(),
  }));
  await step("delete", () => client.api(item()).delete());
  await step("getDeleted", () => client.api(item()).get());
  await step("badFilter", () => client.api(TASKS).filter("nope eq 1").get());
  await step("withoutCustomHosts", () => graphClient(undefined).api(TASKS).get());
  await step("paging", walkPages);
  report.deletedId = id;
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

await main();
