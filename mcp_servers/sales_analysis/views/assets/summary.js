// sales_summary: bars per group. One dimension: one bar per group. Two or three: the first dimension makes
// the bands, the others the coloured series, stacked or grouped. A band's length is its subtotal (every
// matching row, from the result's `subtotals`), never the sum of the rows that happened to be returned: what
// the returned rows do not cover is drawn hatched as "not in the returned rows". With compare_to, a grey bar
// under each band (or each grouped bar) is the comparison window, and a table lists the change.
const ADDITIVE = new Set(["revenue", "units", "orders", "gross_margin", "discount_total"]);
const REST = "not in the returned rows";
let summaryMetric = null;
let summaryLayout = "stacked";

function groupLabel(dimension, value) {
  return dimension === "store" ? storeName(value) : String(value);
}

function isNumber(v) { return typeof v === "number" && !isNaN(v); }

// Today's result (group_by a string, one metric, rows of {group, value}) and the multi-dimension one
// (group_by a list, metrics, rows of {group: {...}, values: {...}, compare}, subtotals) read the same way.
function normalizeSummary(data) {
  const rows = Array.isArray(data.rows) ? data.rows : [];
  const row = (r) => ({keys: r.group || {}, values: r.values || {}, compare: r.compare || null,
                       change: r.change_percent || null});
  if (Array.isArray(data.group_by)) {
    return {dims: data.group_by.map(String), metrics: (data.metrics || ["revenue"]).map(String),
            rows: rows.map(row), subtotals: Array.isArray(data.subtotals) ? data.subtotals.map(row) : null,
            subtotalCount: isNumber(data.subtotal_count) ? data.subtotal_count : null,
            comparePeriod: data.compare_period || null};
  }
  // Today's gross_margin is a percent; the new result names that gross_margin_percent.
  const metric = data.metric === "gross_margin" ? "gross_margin_percent" : String(data.metric || "revenue");
  const dim = String(data.group_by);
  return {dims: [dim], metrics: [metric], comparePeriod: null, subtotals: null, subtotalCount: null,
          rows: rows.map((r) => ({keys: new Map([[dim, r.group]]), values: new Map([[metric, r.value]]),
                                  compare: null, change: null}))};
}

function pick(container, key) {
  if (!container) return undefined;
  return container instanceof Map ? container.get(key) : (Object.hasOwn(container, key) ? container[key] : undefined);
}

function changeText(value, before) {
  if (!isNumber(value) || !isNumber(before) || before === 0) return "–";
  const change = (value - before) / Math.abs(before) * 100;
  return (change > 0 ? "+" : "") + change.toFixed(1) + " %";
}

// What to draw: bands (the first dimension) in order, each with its total, comparison and cells.
function summaryModel(summary, metric) {
  const [first, ...rest] = summary.dims;
  const split = rest.length > 0;
  const bands = new Map();
  const band = (name) => {
    if (!bands.has(name)) bands.set(name, {name, total: null, compare: null, cells: new Map()});
    return bands.get(name);
  };
  if (split && summary.subtotals) {  // whole bands, ranked by the server
    for (const s of summary.subtotals) {
      const b = band(groupLabel(first, pick(s.keys, first)));
      b.total = Number(pick(s.values, metric));
      b.compare = s.compare ? Number(pick(s.compare, metric)) : null;
    }
  }
  const seriesTotals = new Map();
  for (const r of summary.rows) {
    const name = groupLabel(first, pick(r.keys, first));
    if (split && summary.subtotals && !bands.has(name)) continue;  // a band past the subtotals' cap: not drawn
    const series = rest.map((d) => groupLabel(d, pick(r.keys, d))).join(" · ");
    const value = Number(pick(r.values, metric));
    band(name).cells.set(series, {value, compare: r.compare ? Number(pick(r.compare, metric)) : null});
    seriesTotals.set(series, (seriesTotals.get(series) || 0) + (isNumber(value) ? value : 0));
  }
  const list = [...bands.values()];
  for (const b of list) {
    const cells = [...b.cells.values()];
    if (!split) {
      const only = cells[0] || {};
      b.total = only.value; b.compare = only.compare;
    } else if (!summary.subtotals) {  // an older result: the returned rows are all it has
      b.total = ADDITIVE.has(metric) ? cells.reduce((sum, c) => sum + (isNumber(c.value) ? c.value : 0), 0) : null;
    }
  }
  if (split && !summary.subtotals && ADDITIVE.has(metric)) list.sort((a, b) => b.total - a.total);
  // Series in order of size over what is shown: the legend reads largest first, like the bands.
  const seriesNames = [...seriesTotals.keys()].sort((a, b) => seriesTotals.get(b) - seriesTotals.get(a));
  return {first, split, bands: list, seriesNames};
}

function hatchPattern(root) {
  const defs = svg("defs", {}, root);
  const pattern = svg("pattern", {id: "rest-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse",
                                  patternTransform: "rotate(45)"}, defs);
  svg("rect", {width: 6, height: 6, fill: "var(--color-background-secondary)"}, pattern);
  svg("line", {x1: 0, y1: 0, x2: 0, y2: 6, stroke: "var(--compare)", "stroke-width": 2.5}, pattern);
}

function drawBars(summary, chart) {
  const metric = summaryMetric;
  const model = summaryModel(summary, metric);
  const {split, bands, seriesNames} = model;
  if (!bands.length) { showStatus("No sales in this selection."); return; }
  const withCompare = bands.some((b) => isNumber(b.compare) ||
                                       [...b.cells.values()].some((c) => isNumber(c.compare)));
  const additive = ADDITIVE.has(metric);
  const allCells = bands.flatMap((b) => [...b.cells.values()]);
  const stacked = split && summaryLayout === "stacked" && additive &&
                  bands.every((b) => !isNumber(b.total) || b.total >= 0) && allCells.every((c) => !(c.value < 0));
  const extent = [0];
  for (const b of bands) {
    if (!split || stacked) extent.push(...[b.total, b.compare].filter(isNumber));
    else extent.push(...[...b.cells.values()].flatMap((c) => [c.value, c.compare]).filter(isNumber));
  }

  const W = 760, left = 190, right = 76, top = 6;
  const barsPerBand = split && !stacked ? seriesNames.length : 1;
  const bandHeight = Math.max(22, barsPerBand * (withCompare ? 16 : 12) + 8);
  const H = top + bands.length * bandHeight + 30;
  const ticks = niceTicks(Math.min(...extent), Math.max(...extent), 5);
  const x = linear(ticks[0], ticks[ticks.length - 1], left, W - right);
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, "aria-label": `${label(metric)} by ${summary.dims.join(", ")}`},
                   chart);
  hatchPattern(root);
  const grid = svg("g", {class: "grid"}, root), axis = svg("g", {class: "axis x-axis"}, root);
  for (const t of ticks) {
    svg("line", {x1: x(t), x2: x(t), y1: top, y2: H - 26}, grid);
    svgText(axis, x(t), H - 10, formatValue(metric, t, true), {"text-anchor": "middle", class: "tick-label"});
  }
  const bar = (x0, x1, y, h, attrs, tip) => tooltip(svg("rect", {
    x: x(Math.min(x0, x1)).toFixed(1), y: y.toFixed(1), width: Math.max(0.5, x(Math.max(x0, x1)) - x(Math.min(x0, x1))).toFixed(1),
    height: Math.max(1, h).toFixed(1), ...attrs}, root), tip);
  const comparing = summary.comparePeriod ? ` (${summary.comparePeriod})` : "";
  let restShown = false;

  bands.forEach((b, i) => {
    const y0 = top + i * bandHeight, inner = bandHeight - 8;
    tooltip(svgText(root, left - 8, y0 + bandHeight / 2 + 4, truncate(b.name, 30),
                    {"text-anchor": "end", class: "tick-label group-label", "data-group": b.name}), b.name);
    let reach = 0;  // how far right this band's bars go: its value label starts after all of them
    if (!split || stacked) {
      const h = withCompare ? inner * 0.65 : inner;
      let offset = 0;
      seriesNames.forEach((series, j) => {
        const cell = b.cells.get(series);
        if (!cell || !isNumber(cell.value)) return;
        const tip = `${b.name}${series ? " · " + series : ""}: ${formatValue(metric, cell.value)}` +
          (isNumber(cell.compare) ? `, compared ${formatValue(metric, cell.compare)}${comparing}, ` +
                                    changeText(cell.value, cell.compare) : "");
        bar(offset, offset + cell.value, y0 + 4, h, {fill: split ? seriesColor(j) : seriesColor(0), class: "bar",
            "data-group": b.name, "data-series": series, "data-value": cell.value}, tip);
        offset += cell.value;
      });
      const total = isNumber(b.total) ? b.total : offset;
      // The part of the band's total that the returned rows do not hold (rounding aside).
      const rest = total - offset;
      if (split && rest > Math.max(0.005 * Math.abs(total), 0.5)) {
        restShown = true;
        bar(offset, total, y0 + 4, h, {fill: "url(#rest-hatch)", class: "rest-bar", "data-group": b.name,
            "data-value": rest}, `${b.name}: ${formatValue(metric, rest)} ${REST}`);
      }
      reach = Math.max(reach, x(Math.max(0, total, offset)));
      if (withCompare && isNumber(b.compare)) {
        bar(0, b.compare, y0 + 4 + h + 1, inner - h - 1, {fill: "var(--compare)", class: "compare-bar",
            "data-group": b.name, "data-value": b.compare},
            `${b.name}, compared${comparing}: ${formatValue(metric, b.compare)}`);
        reach = Math.max(reach, x(Math.max(0, b.compare)));
      }
      if (isNumber(total)) {
        tooltip(svgText(root, reach + 4, y0 + bandHeight / 2 + 4, formatValue(metric, total, true),
                        {class: "value-label", "data-group": b.name}),
                `${b.name}: ${formatValue(metric, total)}` +
                (isNumber(b.compare) ? `, compared ${formatValue(metric, b.compare)}, ${changeText(total, b.compare)}` : ""));
      }
    } else {  // grouped: one bar per series, its comparison as a grey bar under it
      const slot = inner / seriesNames.length;
      const h = withCompare ? slot * 0.6 : slot - 1;
      seriesNames.forEach((series, j) => {
        const cell = b.cells.get(series);
        if (!cell || !isNumber(cell.value)) return;
        const y = y0 + 4 + j * slot;
        bar(0, cell.value, y, h, {fill: seriesColor(j), class: "bar", "data-group": b.name, "data-series": series,
            "data-value": cell.value},
            `${b.name} · ${series}: ${formatValue(metric, cell.value)}` +
            (isNumber(cell.compare) ? `, compared ${formatValue(metric, cell.compare)}, ` +
                                      changeText(cell.value, cell.compare) : ""));
        if (withCompare && isNumber(cell.compare)) {
          bar(0, cell.compare, y + h, Math.max(1, slot - h - 1), {fill: "var(--compare)", class: "compare-bar",
              "data-group": b.name, "data-series": series, "data-value": cell.compare},
              `${b.name} · ${series}, compared${comparing}: ${formatValue(metric, cell.compare)}`);
        }
      });
    }
  });
  const items = split ? seriesNames.map((s, j) => ({name: s, color: seriesColor(j)}))
                      : [{name: "This period", color: seriesColor(0)}];
  if (restShown) items.push({name: REST, color: "var(--compare)", hatched: true});
  if (withCompare) items.push({name: "Compared" + comparing, color: "var(--compare)"});
  if (split || withCompare) chart.appendChild(legend(items));
  if (withCompare) chart.appendChild(changeTable(model, metric, summary));
}

// The comparison as numbers: each band's value, the compared value and the change.
function changeTable(model, metric, summary) {
  const heads = [label(model.first), "This period", "Compared" + (summary.comparePeriod ? " " + summary.comparePeriod : ""),
                 "Change"];
  const head = html("tr", {}, heads.map((h, i) => html("th", {class: i ? "num" : null, text: h})));
  const body = html("tbody");
  for (const b of model.bands) {
    body.appendChild(html("tr", {"data-group": b.name}, [
      html("td", {text: b.name}), html("td", {class: "num", text: formatValue(metric, b.total)}),
      html("td", {class: "num", text: formatValue(metric, isNumber(b.compare) ? b.compare : null)}),
      html("td", {class: "num change", text: changeText(b.total, b.compare)}),
    ]));
  }
  return html("table", {class: "changes"}, [html("thead", {}, [head]), body]);
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
  const first = label(summary.dims[0]).toLowerCase();
  const bandsCut = summary.subtotals && summary.subtotalCount > summary.subtotals.length
    ? `The ${summary.subtotals.length} largest of ${summary.subtotalCount} values of ${first}; the other ` +
      `${summary.subtotalCount - summary.subtotals.length} are not drawn.` : null;
  const rowsCut = meta.truncated
    ? (summary.dims.length > 1 && summary.subtotals
      ? `${meta.returned} of ${meta.total} rows returned: each bar is its ${first}'s whole total, hatched where the rows ` +
        "returned do not cover it."
      : `Showing ${meta.returned} of ${meta.total} groups.`) : null;
  $("footnote").textContent = [bandsCut, rowsCut, data.source ? "Source: " + data.source : null]
    .filter(Boolean).join(" ");
  drawBars(summary, chart);
}

// Rows cut by top_n: ask once, through the host, for as many rows as matched (the server caps top_n), so each
// band is drawn in full detail. Until the answer comes (or if the host refuses), the hatched rest stands in.
function askForEveryRow(data) {
  const meta = data.meta || {};
  if (!Bridge.canCallTools || !Array.isArray(data.group_by) || data.group_by.length < 2 || !meta.truncated ||
      !Array.isArray(data.subtotals) || Number(Bridge.input.top_n) >= meta.total) return;
  showStatus(`Asking for all ${meta.total} rows…`);
  Bridge.callTool({...Bridge.input, top_n: meta.total})
    .then((result) => showResult(result, summaryView))
    .catch((error) => showStatus("The host did not run the query for every row: " + error.message, true));
}

const summaryView = {
  render: (data, chart) => { renderSummary(data, chart); askForEveryRow(data); },
  controls: (data) => [
    ...dateFields(data),
    storeField("stores", Bridge.input.stores),
    ...(Array.isArray(data.group_by) ? [{
      name: "compare_to", label: "Compare with", value: Bridge.input.compare_to || "",
      options: [{value: "", label: "nothing"}, {value: "previous_period", label: "previous period"},
                {value: "previous_year", label: "previous year"}]}] : []),
  ],
};
startView(summaryView);
