// inventory_health: a table of stock cover. At-risk items first (highlighted; under a week's cover in
// red), then slow movers; a small bar shows the days of cover against a 60-day scale.
const COVER_SCALE_DAYS = 60;
const CRITICAL_DAYS = 7;

function coverBar(days) {
  const box = svg("svg", {viewBox: "0 0 120 10", "aria-hidden": "true"});
  svg("rect", {x: 0, y: 0, width: 120, height: 10, rx: 2, fill: "var(--color-background-secondary)"}, box);
  if (typeof days === "number") {
    const width = Math.max(1, Math.min(1, days / COVER_SCALE_DAYS) * 120);
    svg("rect", {x: 0, y: 0, width: width.toFixed(1), height: 10, rx: 2, class: "cover-fill",
                 fill: days < CRITICAL_DAYS ? "var(--color-text-danger)" : "var(--series-0)"}, box);
  }
  return box;
}

function stockRow(item, kind) {
  const days = typeof item.days_of_cover === "number" ? item.days_of_cover : null;
  const critical = kind === "at-risk" && (days === null ? item.stock_level <= 0 : days < CRITICAL_DAYS);
  const cell = (text, cls) => html("td", {class: cls || null, text});
  const bar = html("td", {class: "bar"});
  bar.appendChild(coverBar(days));
  return html("tr", {class: kind + (critical ? " critical" : ""), "data-sku": item.sku}, [
    cell(storeName(item.store_id)), cell(item.sku), cell(item.product_name, "product"),
    cell(formatValue("units", Number(item.stock_level)), "num"), cell(Number(item.daily_demand).toFixed(2), "num"),
    cell(days === null ? "no sales" : days.toFixed(1), "num cover"), bar,
    cell(kind === "at-risk" ? "at risk" : "slow mover", "kind"),
  ]);
}

function renderStock(data, chart) {
  $("pickers").replaceChildren();
  const stores = Array.isArray(data.stores) ? data.stores : [];
  $("subtitle").textContent = `${data.at_risk_count ?? 0} at risk, ${data.slow_mover_count ?? 0} slow movers of ` +
    `${data.items_checked ?? 0} items · demand ${data.demand_window || ""} · ` +
    (stores.length === 1 ? storeName(stores[0]) : `${stores.length} stores`) + (data.category ? " · " + data.category : "");
  const headings = ["Store", "SKU", "Product", "Stock", "Units/day", "Days of cover", "", ""];
  const head = html("tr", {}, headings.map((h, i) => html("th", {class: i >= 3 && i <= 5 ? "num" : null, text: h})));
  const body = html("tbody");
  for (const item of data.at_risk || []) body.appendChild(stockRow(item, "at-risk"));
  for (const item of data.slow_movers || []) body.appendChild(stockRow(item, "slow"));
  chart.appendChild(html("table", {class: "stock"}, [html("thead", {}, [head]), body]));
  if (!body.children.length) showStatus("No item at risk and no slow mover in this selection.");
  const meta = data.meta || {};
  $("footnote").textContent = [`Red: under ${CRITICAL_DAYS} days of cover; bars to ${COVER_SCALE_DAYS} days.`,
                               meta.truncated ? `Showing ${meta.returned} of ${meta.total} items.` : null]
    .filter(Boolean).join(" ");
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
