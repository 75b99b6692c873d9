// Shared drawing and DOM helpers. Data from a result is only ever placed with textContent or as an
// attribute value set by setAttribute on an attribute name of ours: never parsed as markup.
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function svgText(parent, x, y, text, attrs) {
  const node = svg("text", {x, y, ...(attrs || {})}, parent);
  node.textContent = String(text);
  return node;
}

function tooltip(node, text) { svg("title", {}, node).textContent = String(text); return node; }

function html(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children || []) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  return node;
}

function truncate(text, max) { return text.length > max ? text.slice(0, max - 1) + "…" : text; }

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

function showStatus(message, isError) {
  const status = $("status");
  status.textContent = message || "";
  status.classList.toggle("error", Boolean(isError));
}

const PALETTE_SIZE = 12;
function seriesColor(i) { return "var(--series-" + (i % PALETTE_SIZE) + ")"; }
// Past the palette, lines repeat a colour but are dashed, so no two series look the same.
function seriesDashed(i) { return i >= PALETTE_SIZE; }

// --- numbers --------------------------------------------------------------------------------------

const MONEY = new Set(["revenue", "average_order_value", "gross_margin", "discount_total", "compare"]);
const PERCENT = new Set(["gross_margin_percent", "share_percent", "change_percent", "yoy_percent"]);
const METRIC_LABELS = {
  revenue: "Revenue", units: "Units", orders: "Orders", average_order_value: "Average order value",
  gross_margin: "Gross margin", gross_margin_percent: "Gross margin %", discount_total: "Discounts",
  index: "Index (1.0 = average month)",
};
const DIMENSION_LABELS = {store: "Store", category: "Category", product_type: "Product type", product: "Product",
                          year: "Year", quarter: "Quarter", month: "Month"};

function label(key) { return METRIC_LABELS[key] || DIMENSION_LABELS[key] || String(key).replace(/_/g, " "); }

function formatValue(metric, value, compact) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (PERCENT.has(metric)) return value.toFixed(1) + " %";
  if (metric === "index") return value.toFixed(2);
  // Compact: "$16.1K", and whole units below a thousand ("$939", not "$938.5").
  const options = compact ? {notation: "compact", maximumFractionDigits: Math.abs(value) < 1000 ? 0 : 1}
                          : {maximumFractionDigits: MONEY.has(metric) ? 2 : 0};
  if (MONEY.has(metric)) {
    return new Intl.NumberFormat("en-US", {style: "currency", currency: "USD", ...options,
                                           minimumFractionDigits: compact ? 0 : undefined}).format(value);
  }
  return new Intl.NumberFormat("en-US", options).format(value);
}

// Round tick steps (1, 2, 2.5, 5 x 10^k) covering [min, max], about `count` of them.
function niceTicks(min, max, count) {
  if (!(max > min)) { max = min + 1; }
  const raw = (max - min) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  if (ticks[ticks.length - 1] < max) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
  return ticks;
}

function linear(domainMin, domainMax, rangeMin, rangeMax) {
  const span = domainMax - domainMin || 1;
  return (v) => rangeMin + (v - domainMin) / span * (rangeMax - rangeMin);
}

// Store ids (store_seattle) read as names; other values are shown as they are.
function storeName(id) {
  const s = String(id);
  if (!s.startsWith("store_")) return s;
  return s.slice(6).split("_").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(" ");
}

function yAxis(root, ticks, y, left, right, metric) {
  const axis = svg("g", {class: "axis y-axis"}, root);
  const grid = svg("g", {class: "grid"}, root);
  for (const t of ticks) {
    svg("line", {x1: left, x2: right, y1: y(t), y2: y(t)}, grid);
    svgText(axis, left - 6, y(t) + 4, formatValue(metric, t, true), {"text-anchor": "end", class: "tick-label"});
  }
}

function legend(items) {
  const box = html("div", {class: "legend"});
  items.forEach((item) => {
    const span = html("span", {class: item.dashed ? "dashed" : item.hatched ? "hatched" : null, "data-series": item.name,
                               text: item.name});
    span.style.setProperty("--swatch", item.color);
    box.appendChild(span);
  });
  return box;
}

// --- the result lifecycle, shared by every view ----------------------------------------------------

const App = {result: null, origin: null};

function textOf(callResult) {
  return (callResult.content || []).filter((c) => c && c.type === "text").map((c) => String(c.text)).join("\n");
}

function showResult(callResult, view) {
  if (!callResult || typeof callResult !== "object") return;
  if (callResult.isError) {
    showStatus(textOf(callResult).slice(0, 300) || "The tool reported an error.", true);
    return;
  }
  const data = callResult.structuredContent;
  if (!data || typeof data !== "object") {
    showStatus("This result has no structured content to draw.", true);
    return;
  }
  App.result = data;
  // The first result fixes what the view may offer (its stores): a narrower re-query never widens it.
  if (!App.origin) App.origin = {input: {...Bridge.input}, stores: Array.isArray(data.stores) ? data.stores : []};
  showStatus("");
  try {
    view.render(data, clear($("chart")));
    buildControls(view.controls ? view.controls(data) : [], view);
  } catch (error) {
    showStatus("Could not draw this result: " + error.message, true);
  }
}

// Controls that re-run the tool: each field maps to one tool argument. Hidden when the host does not
// proxy tool calls.
function buildControls(fields, view) {
  const form = clear($("controls"));
  if (!Bridge.canCallTools || !fields.length) { form.hidden = true; return; }
  form.hidden = false;
  for (const field of fields) {
    let input;
    if (field.options) {
      input = html("select", {name: field.name});
      for (const option of field.options) {
        input.appendChild(html("option", {value: option.value, selected: option.value === field.value,
                                          text: option.label}));
      }
    } else {
      input = html("input", {name: field.name, type: field.type || "text", value: field.value || "",
                             placeholder: field.placeholder || null, size: field.size || null});
    }
    form.appendChild(html("label", {}, [field.label, input]));
  }
  // A plain button, not a submit: hosts sandbox the view without allow-forms, which drops submit events.
  const update = html("button", {type: "button", class: "update", text: "Update"});
  form.appendChild(update);
  form.onsubmit = (event) => event.preventDefault();
  update.onclick = async () => {
    const args = {...Bridge.input};
    for (const field of fields) {
      const raw = form.elements[field.name].value;
      const value = field.toArgument ? field.toArgument(raw) : (raw === "" ? null : raw);
      if (value === null || value === undefined) delete args[field.name]; else args[field.name] = value;
    }
    update.disabled = true;
    showStatus("Updating…");
    try {
      showResult(await Bridge.callTool(args), view);
    } catch (error) {
      showStatus("The host did not run the query: " + error.message, true);
      update.disabled = false;
    }
  };
}

// The store picker offers the stores of the first result only; "all" sends the original argument back.
function storeField(name, current) {
  const stores = App.origin ? App.origin.stores : [];
  const selected = Array.isArray(current) && current.length === 1 && stores.includes(current[0]) ? current[0] : "";
  const original = App.origin ? App.origin.input[name] : undefined;
  return {
    name, label: "Store", value: selected,
    options: [{value: "", label: "All shown (" + stores.length + ")"},
              ...stores.map((s) => ({value: s, label: storeName(s)}))],
    toArgument: (raw) => raw === "" ? (original === undefined ? null : original)
                                    : (name === "store" ? raw : [raw]),
  };
}

function periodBounds(period) {
  const match = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(String(period || ""));
  return match ? [match[1], match[2]] : ["", ""];
}

function dateFields(data) {
  const [start, end] = periodBounds(data.period);
  return [{name: "start_date", label: "From", type: "date", value: Bridge.input.start_date || start},
          {name: "end_date", label: "To", type: "date", value: Bridge.input.end_date || end}];
}

function startView(view) {
  Bridge.connect((callResult) => showResult(callResult, view))
    .catch((error) => showStatus("Could not connect to the host: " + error.message, true));
}
