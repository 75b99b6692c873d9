// The MCP Apps bridge: JSON-RPC 2.0 over postMessage with the host (spec 2026-01-26).
// The view speaks only to its parent window; it never opens a network connection (the CSP forbids it).
const Bridge = (() => {
  const PROTOCOL_VERSION = "2026-01-26";
  const pending = new Map();
  const handlers = new Map();
  let nextId = 1;

  function post(message) { window.parent.postMessage({jsonrpc: "2.0", ...message}, "*"); }

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;  // only the host may talk to the view
    const msg = event.data;
    if (!msg || typeof msg !== "object" || msg.jsonrpc !== "2.0") return;
    if (msg.method === undefined && pending.has(msg.id)) {  // a response to one of our requests
      const {resolve, reject} = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(String(msg.error.message || "the host refused the request")));
      else resolve(msg.result || {});
    } else if (typeof msg.method === "string") {
      const handler = handlers.get(msg.method);
      if (msg.id !== undefined) {  // host requests (ping, ui/resource-teardown) want an answer
        post({id: msg.id, result: {}});
      }
      if (handler) handler(msg.params || {});
    }
  });

  function request(method, params) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, {resolve, reject});
      post({id, method, params});
    });
  }

  function notify(method, params) { post({method, params}); }
  function on(method, handler) { handlers.set(method, handler); }

  // Theme and host style variables: applied through the CSSOM (allowed by the CSP), never as markup.
  function applyHostContext(context) {
    if (!context || typeof context !== "object") return;
    const root = document.documentElement;
    if (context.theme === "light" || context.theme === "dark") root.dataset.theme = context.theme;
    const variables = context.styles && context.styles.variables;
    if (variables && typeof variables === "object") {
      for (const [name, value] of Object.entries(variables)) {
        if (/^--[a-z0-9-]+$/.test(name) && typeof value === "string") root.style.setProperty(name, value);
      }
    }
  }

  let canCallTools = false;

  async function connect(onResult) {
    on("ui/notifications/tool-input", (params) => { Bridge.input = params.arguments || {}; });
    on("ui/notifications/tool-result", (params) => onResult(params));
    on("ui/notifications/tool-cancelled", (params) =>
      showStatus("The tool call was cancelled" + (params.reason ? ": " + params.reason : ""), true));
    on("ui/notifications/host-context-changed", applyHostContext);
    const result = await request("ui/initialize", {
      protocolVersion: PROTOCOL_VERSION,
      appInfo: {name: "zava-" + VIEW.name, version: "1.0.0"},
      appCapabilities: {availableDisplayModes: ["inline"]},
    });
    applyHostContext(result.hostContext);
    canCallTools = Boolean(result.hostCapabilities && result.hostCapabilities.serverTools);
    notify("ui/notifications/initialized", {});
    if (typeof ResizeObserver === "function") {
      let last = "";
      new ResizeObserver(() => {
        // The body's own box: the document's scrollHeight never drops below the frame's current height,
        // so a view that shrinks (a status line gone) would keep its old, taller frame.
        const size = {width: Math.ceil(document.documentElement.scrollWidth),
                      height: Math.ceil(document.body.getBoundingClientRect().height)};
        const key = size.width + "x" + size.height;
        if (key !== last) { last = key; notify("ui/notifications/size-changed", size); }
      }).observe(document.body);
    }
  }

  // Re-run this view's own tool through the host. The host may refuse (or ask the user); the server
  // applies the caller's scope whatever the view asks.
  async function callTool(args) {
    const result = await request("tools/call", {name: VIEW.tool, arguments: args});
    Bridge.input = args;
    return result;
  }

  return {connect, callTool, get canCallTools() { return canCallTools; }, input: {}};
})();
