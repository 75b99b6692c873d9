// inventory_health: a table of stock cover. Each row has the one state the server gave it (out of stock,
// critical, low, slow mover); the key above the table shows each state's colour beside the server's own rule
// for it, so the colours never say more than the rule. A small bar shows the days of cover against 60 days.
const COVER_SCALE_DAYS = 60;
const STATE_ORDER = ["out_of_stock", "critical", "low", "slow_mover"];
const STATE_LABELS = {out_of_stock: "out of stock", critical: "critical", low: "low", slow_mover: "slow mover"};
const STATE_COLOURS = {out_of_stock: "var(--color-background-danger)", critical: "var(--color-background-danger)",
                       low: "var(--color-background-warning)", slow_mover: "var(--color-background-primary)"};
const STATE_BARS = {out_of_stock: "var(--color-text-danger)", critical: "var(--color-text-danger)",
                    low: "var(--series-1)", slow_mover: "var(--compare)"};

function stateOf(item) { return STATE_ORDER.includes(item.state) ? item.state : "slow_mover"; }

function coverBar(days, state) {
  const box = svg("svg", {viewBox: "0 0 120 10", "aria-hidden": "true"});
  svg("rect", {x: 0, y: 0, width: 120, height: 10, rx: 2, fill: "var(--color-background-secondary)"}, box);
  if (typeof days === "number") {
    const width = Math.max(1, Math.min(1, days / COVER_SCALE_DAYS) * 120);
    svg("rect", {x: 0, y: 0, width: width.toFixed(1), height: 10, rx: 2, class: "cover-fill",
                 fill: STATE_BARS[state]}, box);
  }
  return box;
}

function stockRow(item, rules) {
  const days = typeof item.days_of_cover === "number" ? item.days_of_cover : null;
  const state = stateOf(item);
  const cell = (text, cls) => html("td", {class: cls || null, text});
  const bar = html("td", {class: "bar"});
  bar.appendChild(coverBar(days, state));
  const kind = cell(STATE_LABELS[state], "kind");
  if (rules[state]) kind.title = rules[state];
  return html("tr", {class: state, "data-sku": item.sku, "data-state": state}, [
    cell(storeName(item.store_id)), cell(item.sku), cell(item.product_name, "product"),
    cell(formatValue("units", Number(item.stock_level)), "num"), cell(Number(item.daily_demand).toFixed(2), "num"),
    cell(days === null ? "no sales" : days.toFixed(1), "num cover"), bar, kind,
  ]);
}

// The colour key: each state shown in the answer (or counted in it), its colour, and the server's rule.
function stateKey(data, rules, shown) {
  const counts = data.state_counts || {};
  const box = html("div", {class: "key", role: "list", "aria-label": "What the colours mean"});
  for (const state of STATE_ORDER) {
    if (!shown.has(state) && !counts[state]) continue;
    const swatch = html("i");
    swatch.style.setProperty("--swatch", STATE_COLOURS[state]);
    const count = typeof counts[state] === "number" ? ` (${formatValue("units", counts[state])})` : "";
    box.appendChild(html("span", {role: "listitem", "data-state": state}, [
      swatch, html("strong", {text: STATE_LABELS[state] + count}), (rules[state] ? ": " + rules[state] : ""),
    ]));
  }
  return box;
}

function renderStock(data, chart) {
  $("pickers").replaceChildren();
  const stores = Array.isArray(data.stores) ? data.stores : [];
  const rules = data.rules && typeof data.rules === "object" ? data.rules : {};
  $("subtitle").textContent = `${data.at_risk_count ?? 0} at risk, ${data.slow_mover_count ?? 0} slow movers of ` +
    `${data.items_checked ?? 0} items · demand ${data.demand_window || ""} · ` +
    (stores.length === 1 ? storeName(stores[0]) : `${stores.length} stores`) + (data.category ? " · " + data.category : "");
  const items = [...(data.at_risk || []), ...(data.slow_movers || [])];
  const headings = ["Store", "SKU", "Product", "Stock", "Units/day", "Days of cover", "", "State"];
  const head = html("tr", {}, headings.map((h, i) => html("th", {class: i >= 3 && i <= 5 ? "num" : null, text: h})));
  const body = html("tbody");
  for (const item of items) body.appendChild(stockRow(item, rules));
  chart.appendChild(stateKey(data, rules, new Set(items.map(stateOf))));
  chart.appendChild(html("table", {class: "stock"}, [html("thead", {}, [head]), body]));
  if (!body.children.length) showStatus("No item at risk and no slow mover in this selection.");
  const meta = data.meta || {};
  $("footnote").textContent = [meta.truncated && meta.note ? meta.note.charAt(0).toUpperCase() + meta.note.slice(1) + "."
                                                           : null,
                               `Bars: days of cover, up to ${COVER_SCALE_DAYS}.`].filter(Boolean).join(" ");
}

startView({
  render: renderStock,
  controls: (data) => [
    storeField("store", Bridge.input.store ? [Bridge.input.store] : null),
    {name: "category", label: "Category", value: Bridge.input.category || data.category || "",
     placeholder: "all categories", size: 18},
    {name: "max_rows", label: "Rows", type: "number", value: String(Bridge.input.max_rows || 20), size: 4,
     toArgument: (raw) => raw === "" ? null : Number(raw)},
  ],
});
