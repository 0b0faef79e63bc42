// Code that connects to this server with an app's secret, as the README's "Connecting production
// code" shows it: the official credential classes with their authority pointed here.

// The Python and JavaScript snippets for one app, with this server's address filled in.
export function snippets({origin, host, tenant, clientId, secret}) {
  return {
    python: python(origin, tenant, clientId, secret),
    javascript: javascript(origin, host, tenant, clientId, secret),
  };
}

// The identity libraries refuse an http:// authority, and the Graph client sends its token over
// https:// only; say so where it matters.
function httpsNote(origin, comment) {
  return origin.startsWith("https:") ? ""
    : `${comment} These libraries need HTTPS: run \`graphtasks serve --tls\` and use its https:// address.\n`;
}

function python(origin, tenant, clientId, secret) {
  return `${httpsNote(origin, "#")}import asyncio

from azure.identity import ClientSecretCredential
from msgraph_beta import GraphServiceClient

SERVER = "${origin}"
credential = ClientSecretCredential(
    "${tenant}",
    "${clientId}",
    "${secret}",
    authority=SERVER,  # instead of login.microsoftonline.com
    disable_instance_discovery=True,
)
client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
client.request_adapter.base_url = f"{SERVER}/beta"  # instead of graph.microsoft.com

page = asyncio.run(client.device_app_management.device_app_management_tasks.get())
print([task.display_name for task in page.value])
`;
}

function javascript(origin, host, tenant, clientId, secret) {
  return `${httpsNote(origin, "//")}import { ClientSecretCredential } from "@azure/identity";
import { Client } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from
  "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";

const SERVER = "${origin}";
const credential = new ClientSecretCredential(
  "${tenant}",
  "${clientId}",
  "${secret}",
  { authorityHost: SERVER, disableInstanceDiscovery: true },  // instead of login.microsoftonline.com
);
const client = Client.initWithMiddleware({
  authProvider: new TokenCredentialAuthenticationProvider(credential, {
    scopes: ["https://graph.microsoft.com/.default"],
  }),
  baseUrl: SERVER,                 // instead of https://graph.microsoft.com
  defaultVersion: "beta",
  customHosts: new Set(["${host}"]),  // host name only: the client sends its token to these hosts
});
const page = await client.api("/deviceAppManagement/deviceAppManagementTasks").top(50).get();
console.log(page.value.map((task) => task.displayName));
`;
}
