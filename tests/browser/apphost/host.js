// A web host as the MCP Apps spec (2026-01-26) and ext-apps' basic-host describe it, built on the official
// host library: `AppBridge` and `PostMessageTransport` from @modelcontextprotocol/ext-apps, and the MCP
// TypeScript SDK's `Client` over Streamable HTTP. Bundled by esbuild for the browser tests (view_harness.py).
//
// Two kinds of scenario (fetched from /scenario/<id>.json):
// - live: connect to a running server with a bearer token, list its tools, read the tool's `ui://` view
//   (resources/read, checking the MIME type), call the tool, render the view in a sandboxed iframe and
//   hand it the arguments and the result; the view's own tools/call go to the server through the bridge.
// - given: a result the test already holds (real, perhaps edited), and recorded replies for the view's
//   tools/call; no server.
// Everything the view sends and every tools/call it makes is logged in window.hostLog / window.toolCalls.
import {
  AppBridge,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
  getToolUiResourceUri,
} from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const HOST_INFO = { name: "zava-apphost-test", version: "1.0.0" };
const APPS_EXTENSION = "io.modelcontextprotocol/ui";

window.hostLog = [];
window.toolCalls = [];
window.hostReady = false;

function fail(error) {
  window.hostError = String(error && error.stack || error);
  document.getElementById("error").textContent = window.hostError;
}

async function connectLive(scenario) {
  const client = new Client(HOST_INFO, {
    capabilities: { extensions: { [APPS_EXTENSION]: { mimeTypes: [RESOURCE_MIME_TYPE] } } },
  });
  const headers = scenario.token ? { Authorization: `Bearer ${scenario.token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(scenario.server), { requestInit: { headers } }));
  window.serverInfo = client.getServerVersion();
  const tool = (await client.listTools()).tools.find((t) => t.name === scenario.tool);
  if (!tool) throw new Error(`the server lists no tool ${scenario.tool}`);
  const uri = getToolUiResourceUri(tool);
  if (!uri) throw new Error(`${scenario.tool} names no ui:// view`);
  const read = await client.readResource({ uri });
  if (read.contents.length !== 1 || read.contents[0].mimeType !== RESOURCE_MIME_TYPE) {
    throw new Error(`${uri} is not one ${RESOURCE_MIME_TYPE} document`);
  }
  window.viewResource = { uri, meta: read.contents[0]._meta || null };
  const result = await client.callTool({ name: scenario.tool, arguments: scenario.arguments });
  window.firstResult = result;
  return { client, html: read.contents[0].text, result };
}

async function main() {
  const scenario = await (await fetch(`/scenario/${location.hash.slice(1)}.json`)).json();
  const frame = document.getElementById("view");
  const live = scenario.server ? await connectLive(scenario) : null;
  const client = live ? live.client : null;
  const capabilities = scenario.serverTools === false ? {}
    : { serverTools: live ? client.getServerCapabilities().tools || {} : {} };
  const bridge = new AppBridge(client, HOST_INFO, capabilities, {
    hostContext: {
      theme: scenario.theme || "light", displayMode: "inline", availableDisplayModes: ["inline"],
      platform: "web", containerDimensions: { width: 780, maxHeight: 4000 },
      toolInfo: { tool: { name: scenario.tool, inputSchema: { type: "object" } } },
    },
  });
  window.bridge = bridge;
  bridge.onsizechange = ({ height }) => {
    if (height !== undefined) frame.style.height = `${Math.max(60, height)}px`;
    window.lastSize = { height };
  };
  const replies = [...(scenario.replies || [])];
  const recorded = async (params) => {
    const reply = replies.shift();
    if (!reply) throw new Error("no recorded reply");
    return reply;
  };
  bridge.oninitialized = () => {
    bridge.sendToolInput({ arguments: scenario.arguments || {} });
    bridge.sendToolResult(live ? live.result : scenario.result);
    window.resultSent = true;
  };
  // Log what the view sends (the bridge itself answers it).
  window.addEventListener("message", (event) => {
    if (event.source === frame.contentWindow && event.data && event.data.jsonrpc === "2.0") {
      window.hostLog.push({ from: "view", ...event.data });
    }
  });
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  // connect() wired tools/call to the server when there is one; keep that forwarding, and record each call.
  const forward = bridge.oncalltool || recorded;
  if (scenario.serverTools !== false) {
    bridge.oncalltool = async (params, extra) => {
      window.toolCalls.push(params);
      return forward(params, extra);
    };
  }
  window.setTheme = (theme) => bridge.setHostContext({ ...bridge.getHostContext?.(), theme });
  frame.srcdoc = live ? live.html : scenario.html;
  window.hostReady = true;
}

main().catch(fail);
