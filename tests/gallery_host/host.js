// A minimal MCP Apps host (io.modelcontextprotocol/ui, 2026-01-26) for the gallery's browser tests.
//
// It renders one view in a sandboxed iframe (allow-scripts only, so the view runs in an opaque origin) with a
// Content-Security-Policy built from the resource's _meta.ui.csp, answers ui/initialize, pushes tool input and
// results, forwards the view's tools/call and resources/read to the real MCP client of the test (the page function
// window.kreaMcp, bound by Playwright's expose_function), records ui/open-link, and records every message, CSP
// violation and size report for the test to read from window.host.
"use strict";

(function () {
  const PROTOCOL_VERSION = "2026-01-26";
  const DEFAULT_CSP = {
    "default-src": ["'none'"],
    "script-src": ["'unsafe-inline'"],
    "style-src": ["'unsafe-inline'"],
    "img-src": ["data:"],
    "media-src": ["data:"],
    "connect-src": ["'none'"],
  };

  // Reports the view's CSP violations to the host; put in the view's head right after the CSP itself.
  const PROBE =
    "<script>document.addEventListener('securitypolicyviolation',function(e){try{window.parent.postMessage(" +
    "{__hostProbe:'csp',directive:e.violatedDirective,effective:e.effectiveDirective,blocked:e.blockedURI," +
    "sample:e.sample,source:e.sourceFile,line:e.lineNumber},'*')}catch(_){}});<\/script>";

  function cspText(declared) {
    const policy = {};
    for (const [key, value] of Object.entries(DEFAULT_CSP)) policy[key] = value.slice();
    const add = (directives, domains) => {
      if (!Array.isArray(domains) || domains.length === 0) return;
      for (const directive of directives) {
        policy[directive] = (policy[directive] || []).filter((v) => v !== "'none'").concat(domains);
      }
    };
    if (declared) {
      add(["connect-src"], declared.connectDomains);
      add(["img-src", "media-src", "script-src", "style-src", "font-src"], declared.resourceDomains);
      add(["frame-src"], declared.frameDomains);
      add(["base-uri"], declared.baseUriDomains);
    }
    return Object.entries(policy)
      .map(([key, values]) => key + " " + values.join(" "))
      .join("; ");
  }

  function escapeAttr(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  // The view's HTML with the CSP <meta> and the violation probe first in its head.
  function withPolicy(html, csp) {
    const head = '<meta http-equiv="Content-Security-Policy" content="' + escapeAttr(csp) + '">' + PROBE;
    const match = /<head(\s[^>]*)?>/i.exec(html);
    if (match) return html.slice(0, match.index + match[0].length) + head + html.slice(match.index + match[0].length);
    return "<head>" + head + "</head>" + html;
  }

  const host = {
    theme: "light",
    csp: "",
    initialized: false,
    initializeParams: null,
    messages: [], // every message both ways: {dir: "in"|"out", at, msg}
    violations: [], // securitypolicyviolation events of the view
    openedLinks: [],
    sizes: [],
    modelMessages: [],
    errors: [], // host-side failures (a bridge call that threw)
    frame: null,
    nextId: 1,
    pending: new Map(),

    load(html, meta, theme) {
      const ui = (meta && meta.ui) || {};
      host.theme = theme || "light";
      document.documentElement.classList.toggle("dark", host.theme === "dark");
      host.csp = cspText(ui.csp);
      const frame = document.createElement("iframe");
      frame.id = "view";
      frame.title = "krea gallery";
      frame.setAttribute("sandbox", "allow-scripts");
      const permissions = ui.permissions || {};
      if (permissions.clipboardWrite) frame.setAttribute("allow", "clipboard-write *");
      frame.srcdoc = withPolicy(html, host.csp);
      host.frame = frame;
      document.getElementById("frame-box").replaceChildren(frame);
    },

    post(msg) {
      host.messages.push({ dir: "out", at: Date.now(), msg });
      host.frame.contentWindow.postMessage(msg, "*");
    },

    notify(method, params) {
      host.post({ jsonrpc: "2.0", method, params });
    },

    pushTool(args, result) {
      host.notify("ui/notifications/tool-input", { arguments: args });
      host.notify("ui/notifications/tool-result", result);
    },

    teardown() {
      // The host is about to remove the view (ui/resource-teardown, a request the view answers).
      host.post({ jsonrpc: "2.0", id: "teardown-" + Date.now(), method: "ui/resource-teardown", params: {} });
    },

    setTheme(theme) {
      host.theme = theme;
      document.documentElement.classList.toggle("dark", theme === "dark");
      host.notify("ui/notifications/host-context-changed", { theme });
    },

    hostContext() {
      return {
        theme: host.theme,
        displayMode: "inline",
        availableDisplayModes: ["inline"],
        platform: "web",
        locale: "en-US",
        timeZone: "UTC",
        containerDimensions: { width: 760, maxHeight: 6000 },
      };
    },

    async answer(msg) {
      const params = msg.params || {};
      switch (msg.method) {
        case "ui/initialize":
          host.initializeParams = params;
          return {
            protocolVersion: PROTOCOL_VERSION,
            hostInfo: { name: "krea-test-host", version: "1.0.0" },
            hostCapabilities: { openLinks: {}, serverTools: {}, serverResources: {}, logging: {} },
            hostContext: host.hostContext(),
          };
        case "tools/call":
        case "resources/read": {
          const answer = JSON.parse(await window.kreaMcp(msg.method, JSON.stringify(params)));
          if (answer.error) throw answer.error;
          return answer.result;
        }
        case "ui/open-link":
          host.openedLinks.push(params.url);
          return {};
        case "ui/message":
        case "ui/update-model-context":
          host.modelMessages.push({ method: msg.method, params });
          return {};
        case "ui/request-display-mode":
          return { mode: "inline" };
        case "ping":
          return {};
        default:
          throw { code: -32601, message: "Method not found: " + msg.method };
      }
    },

    async onRequest(msg) {
      let reply;
      try {
        reply = { jsonrpc: "2.0", id: msg.id, result: await host.answer(msg) };
      } catch (err) {
        const error =
          err && typeof err.code === "number"
            ? { code: err.code, message: String(err.message), data: err.data }
            : { code: -32603, message: String((err && err.message) || err) };
        if (error.code === -32603) host.errors.push({ method: msg.method, error: error.message });
        reply = { jsonrpc: "2.0", id: msg.id, error };
      }
      host.post(reply);
    },

    onNotification(msg) {
      const params = msg.params || {};
      if (msg.method === "ui/notifications/initialized") {
        host.initialized = true;
      } else if (msg.method === "ui/notifications/size-changed") {
        host.sizes.push(params);
        if (typeof params.height === "number" && params.height > 0) {
          host.frame.style.height = Math.ceil(params.height) + "px";
        }
      }
    },

    onMessage(event) {
      if (!host.frame || event.source !== host.frame.contentWindow) return;
      const msg = event.data;
      if (msg && msg.__hostProbe === "csp") {
        host.violations.push(msg);
        return;
      }
      host.messages.push({ dir: "in", at: Date.now(), msg });
      if (!msg || msg.jsonrpc !== "2.0") return;
      if (typeof msg.method === "string" && msg.id !== undefined) host.onRequest(msg);
      else if (typeof msg.method === "string") host.onNotification(msg);
      // Answers to requests of the host: it sends none that expect one.
    },
  };

  window.addEventListener("message", (event) => host.onMessage(event));
  window.host = host;
})();
