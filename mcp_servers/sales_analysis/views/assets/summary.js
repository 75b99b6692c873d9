// sales_summary: bars per group. One dimension: one bar per group (the compare period as a thin bar).
// Two or three: the first dimension makes the rows, the others the coloured series, stacked or grouped.
const ADDITIVE = new Set(["revenue", "units", "orders", "gross_margin", "discount_total"]);
let summaryMetric = null;
let summaryLayout = "stacked";

function groupLabel(dimension, value) {
  return dimension === "store" ? storeName(value) : String(value);
}

// Today's result (group_by a string, one metric, rows of {group, value}) and the multi-dimension one
// (group_by a list, metrics, rows of {group: {...}, values: {...}, compare}) read the same way.
function normalizeSummary(data) {
  const rows = Array.isArray(data.rows) ? data.rows : [];
  if (Array.isArray(data.group_by)) {
    return {dims: data.group_by.map(String), metrics: (data.metrics || ["revenue"]).map(String),
            rows: rows.map((r) => ({keys: r.group || {}, values: r.values || {}, compare: r.compare || null})),
            comparePeriod: data.compare_period || null};
  }
  // Today's gross_margin is a percent; the new result names that gross_margin_percent.
  const metric = data.metric === "gross_margin" ? "gross_margin_percent" : String(data.metric || "revenue");
  const dim = String(data.group_by);
  return {dims: [dim], metrics: [metric], comparePeriod: null,
          rows: rows.map((r) => ({keys: new Map([[dim, r.group]]), values: new Map([[metric, r.value]]), compare: null}))};
}

function pick(container, key) {
  if (!container) return undefined;
  return container instanceof Map ? container.get(key) : (Object.hasOwn(container, key) ? container[key] : undefined);
}

function truncate(text, max) { return text.length > max ? text.slice(0, max - 1) + "…" : text; }

function drawBars(summary, chart) {
  const metric = summaryMetric;
  const [first, ...rest] = summary.dims;
  const bands = [], seriesNames = [], cells = new Map();
  for (const row of summary.rows) {
    const band = groupLabel(first, pick(row.keys, first));
    const series = rest.map((d) => groupLabel(d, pick(row.keys, d))).join(" · ");
    const value = Number(pick(row.values, metric));
    if (!bands.includes(band)) bands.push(band);
    if (!seriesNames.includes(series)) seriesNames.push(series);
    cells.set(band + "\u0000" + series, {value, compare: row.compare ? Number(pick(row.compare, metric)) : null});
  }
  if (!bands.length) { showStatus("No sales in this selection."); return; }
  const split = rest.length > 0;
  const withCompare = !split && [...cells.values()].some((c) => typeof c.compare === "number" && !isNaN(c.compare));
  const values = [...cells.values()].flatMap((c) => [c.value, withCompare ? c.compare : null])
    .filter((v) => typeof v === "number" && !isNaN(v));
  const stacked = split && summaryLayout === "stacked" && ADDITIVE.has(metric) && values.every((v) => v >= 0);
  const extent = stacked
    ? bands.map((b) => seriesNames.reduce((sum, s) => sum + ((cells.get(b + "\u0000" + s) || {}).value || 0), 0))
    : values;

  const W = 760, left = 190, right = 70, top = 6;
  const barsPerBand = split && !stacked ? seriesNames.length : 1;
  const band = Math.max(22, barsPerBand * 12 + 8);
  const H = top + bands.length * band + 30;
  const ticks = niceTicks(Math.min(0, ...extent), Math.max(...extent), 5);
  const x = linear(ticks[0], ticks[ticks.length - 1], left, W - right);
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, "aria-label": `${label(metric)} by ${summary.dims.join(", ")}`},
                   chart);
  const grid = svg("g", {class: "grid"}, root), axis = svg("g", {class: "axis x-axis"}, root);
  for (const t of ticks) {
    svg("line", {x1: x(t), x2: x(t), y1: top, y2: H - 26}, grid);
    svgText(axis, x(t), H - 10, formatValue(metric, t, true), {"text-anchor": "middle", class: "tick-label"});
  }
  bands.forEach((bandName, i) => {
    const y0 = top + i * band;
    tooltip(svgText(root, left - 8, y0 + band / 2 + 4, truncate(bandName, 30),
                    {"text-anchor": "end", class: "tick-label group-label", "data-group": bandName}), bandName);
    let offset = 0;
    seriesNames.forEach((seriesName, j) => {
      const cell = cells.get(bandName + "\u0000" + seriesName);
      if (!cell || isNaN(cell.value)) return;
      const inner = band - 8;
      const h = stacked || !split ? (withCompare ? inner * 0.65 : inner) : inner / seriesNames.length;
      const y = y0 + 4 + (stacked || !split ? 0 : j * h);
      const start = stacked ? offset : 0;
      offset += stacked ? cell.value : 0;
      const x1 = x(Math.min(start, start + cell.value)), x2 = x(Math.max(start, start + cell.value));
      const rect = svg("rect", {x: x1.toFixed(1), y: y.toFixed(1), width: Math.max(0.5, x2 - x1).toFixed(1),
                                height: Math.max(1, h - (split && !stacked ? 1 : 0)).toFixed(1),
                                fill: split ? seriesColor(j) : seriesColor(0), class: "bar",
                                "data-group": bandName, "data-series": seriesName, "data-value": cell.value}, root);
      tooltip(rect, `${bandName}${seriesName ? " · " + seriesName : ""}: ${formatValue(metric, cell.value)}`);
      if (withCompare && typeof cell.compare === "number" && !isNaN(cell.compare)) {
        const c1 = x(Math.min(0, cell.compare)), c2 = x(Math.max(0, cell.compare));
        tooltip(svg("rect", {x: c1.toFixed(1), y: (y + h + 1).toFixed(1), width: Math.max(0.5, c2 - c1).toFixed(1),
                             height: (inner - h - 1).toFixed(1), fill: "var(--compare)", class: "compare-bar",
                             "data-group": bandName, "data-value": cell.compare}, root),
                `${bandName} (compare period): ${formatValue(metric, cell.compare)}`);
      }
    });
    if (!split || stacked) {
      const total = stacked ? offset : (cells.get(bandName + "\u0000") || {}).value;
      if (typeof total === "number" && !isNaN(total)) {
        svgText(root, x(Math.max(0, total)) + 4, y0 + band / 2 + 4, formatValue(metric, total, true),
                {class: "value-label"});
      }
    }
  });
  if (split) {
    chart.appendChild(legend(seriesNames.map((s, j) => ({name: s, color: seriesColor(j)}))));
  } else if (withCompare) {
    chart.appendChild(legend([{name: "This period", color: seriesColor(0)},
                              {name: "Compare period " + (summary.comparePeriod || ""), color: "var(--compare)"}]));
  }
}

function renderSummary(data, chart) {
  const summary = normalizeSummary(data);
  if (!summary.metrics.includes(summaryMetric)) summaryMetric = summary.metrics[0];
  const pickers = clear($("pickers"));
  if (summary.metrics.length > 1) {
    const select = html("select", {name: "metric", "aria-label": "Metric"});
    for (const m of summary.metrics) select.appendChild(html("option", {value: m, selected: m === summaryMetric, text: label(m)}));
    select.onchange = () => { summaryMetric = select.value; renderSummary(App.result, clear($("chart"))); };
    pickers.appendChild(html("label", {}, ["Metric", select]));
  }
  if (summary.dims.length > 1 && ADDITIVE.has(summaryMetric)) {
    const group = html("div", {class: "segmented", role: "group", "aria-label": "Layout"});
    for (const layout of ["stacked", "grouped"]) {
      const button = html("button", {type: "button", "data-layout": layout, text: layout,
                                     "aria-pressed": String(layout === summaryLayout)});
      button.onclick = () => { summaryLayout = layout; renderSummary(App.result, clear($("chart"))); };
      group.appendChild(button);
    }
    pickers.appendChild(group);
  }
  const stores = Array.isArray(data.stores) ? data.stores : [];
  $("subtitle").textContent = `${label(summaryMetric)} by ${summary.dims.map(label).join(" and ").toLowerCase()}, ` +
    `${data.period || ""} · ` + (stores.length === 1 ? storeName(stores[0]) : `${stores.length} stores`);
  const meta = data.meta || {};
  $("footnote").textContent = [meta.truncated ? `Showing ${meta.returned} of ${meta.total} groups.` : null,
                               data.source ? "Source: " + data.source : null].filter(Boolean).join(" · ");
  drawBars(summary, chart);
}

startView({
  render: renderSummary,
  controls: (data) => [
    ...dateFields(data),
    storeField("stores", Bridge.input.stores),
    ...(Array.isArray(data.group_by) ? [{
      name: "compare_to", label: "Compare with", value: Bridge.input.compare_to || "",
      options: [{value: "", label: "nothing"}, {value: "previous_period", label: "previous period"},
                {value: "previous_year", label: "previous year"}]}] : []),
  ],
});
