// sales_trend: one line per series (revenue, units or orders per period), last year dashed beneath. A split
// trend whose small series would lie flat along the bottom of a shared axis is drawn as small multiples
// instead: one panel per series, each on its own scale (a toggle switches between the two).
const TREND_METRICS = ["revenue", "units", "orders"];
// Below this share of the largest series' peak, a series on the shared axis is a flat line at the bottom.
const CRUSHED = 0.25;
let trendMetric = "revenue";
let trendLayout = null;  // "together" | "panels"; null: chosen from the data

function yearBefore(period) { return String(Number(period.slice(0, 4)) - 1) + period.slice(4); }

// The series to draw: `series` when the trend is split, otherwise `points` as one series.
function trendSeries(data) {
  if (Array.isArray(data.series) && data.series.length) {
    return data.series.map((s) => ({name: String(s.name), points: Array.isArray(s.points) ? s.points : []}));
  }
  return [{name: label(trendMetric), points: Array.isArray(data.points) ? data.points : []}];
}

// Last year's value per period: the point a year before when the result holds it, else (revenue only)
// derived from yoy_percent, which the tool computes against the full history.
function lastYear(points, metric) {
  const byPeriod = new Map(points.map((p) => [p.period, p]));
  return points.map((p) => {
    const before = byPeriod.get(yearBefore(p.period));
    if (before && typeof before[metric] === "number") return before[metric];
    if (metric === "revenue" && typeof p.yoy_percent === "number" && p.yoy_percent > -100) {
      return p.revenue / (1 + p.yoy_percent / 100);
    }
    return null;
  });
}

function drawTrend(data, chart) {
  const series = trendSeries(data);
  const split = series.length > 1 || Array.isArray(data.series);
  const periods = [...new Set(series.flatMap((s) => s.points.map((p) => String(p.period))))].sort();
  const column = new Map(periods.map((p, i) => [p, i]));
  const lines = series.map((s, i) => ({
    name: s.name, color: seriesColor(i), dashed: seriesDashed(i),
    values: s.points.map((p) => ({period: String(p.period), value: Number(p[trendMetric])})),
  }));
  const overlay = !split && lines.length === 1 ? lastYear(series[0].points, trendMetric) : [];
  if (overlay.some((v) => v !== null)) {
    lines.push({name: "Same period last year", color: "var(--compare)", dashed: true, overlay: true,
                values: series[0].points.map((p, i) => ({period: String(p.period), value: overlay[i]}))});
  }
  const all = lines.flatMap((l) => l.values.map((v) => v.value)).filter((v) => typeof v === "number" && !isNaN(v));
  if (!periods.length || !all.length) { showStatus("No sales in this selection."); return; }

  const W = 760, H = 290, left = 70, right = 24, top = 10, bottom = 30;
  const ticks = niceTicks(Math.min(0, ...all), Math.max(...all), 5);
  const y = linear(ticks[0], ticks[ticks.length - 1], H - bottom, top);
  const x = periods.length > 1 ? linear(0, periods.length - 1, left, W - right) : () => (left + W - right) / 2;
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, "aria-label": `${label(trendMetric)} per ${data.period_type}`},
                   chart);
  yAxis(root, ticks, y, left, W - right, trendMetric);
  const xAxis = svg("g", {class: "axis x-axis"}, root);
  svg("line", {x1: left, x2: W - right, y1: H - bottom, y2: H - bottom}, xAxis);
  const every = Math.max(1, Math.ceil(periods.length / 12));
  const lastLabelled = Math.floor((periods.length - 1) / every) * every;
  periods.forEach((p, i) => {
    // Every `every`-th period, and the last one when it does not crowd the previous label.
    const isLast = i === periods.length - 1 && i - lastLabelled >= every * 0.75;
    if (i % every !== 0 && !isLast) return;
    svg("line", {x1: x(i), x2: x(i), y1: H - bottom, y2: H - bottom + 4}, xAxis);
    svgText(xAxis, x(i), H - bottom + 17, p, {"text-anchor": "middle", class: "tick-label x-label"});
  });

  for (const line of lines) {
    const d = linePath(periods, line.values, (i) => x(i), y);
    svg("path", {d, fill: "none", stroke: line.color, "stroke-width": line.overlay ? 1.5 : 2.2,
                 "stroke-dasharray": line.dashed ? "5 4" : "none", class: line.overlay ? "yoy-line" : "series-line",
                 "data-series": line.name}, root);
    if (line.overlay) continue;
    const dots = svg("g", {class: "points", "data-series": line.name}, root);
    for (const v of line.values) {
      if (typeof v.value !== "number" || isNaN(v.value)) continue;
      tooltip(svg("circle", {cx: x(column.get(v.period)).toFixed(1), cy: y(v.value).toFixed(1), r: 3,
                             fill: line.color, class: "point", "data-series": line.name, "data-period": v.period,
                             "data-value": v.value}, dots),
              `${line.name} · ${v.period}: ${formatValue(trendMetric, v.value)}`);
    }
  }
  chart.appendChild(legend(lines.map((l) => ({name: l.name, color: l.color, dashed: l.dashed}))));
}

// An SVG path through the values in period order; a period without a value breaks the line (the result has
// no point there: the view does not invent one by joining its neighbours).
function linePath(periods, values, x, y) {
  const byPeriod = new Map(values.map((v) => [v.period, v.value]));
  let d = "", pen = "M";
  periods.forEach((period, i) => {
    const value = byPeriod.get(period);
    if (typeof value !== "number" || isNaN(value)) { pen = "M"; return; }
    d += `${pen}${x(i).toFixed(1)},${y(value).toFixed(1)}`;
    pen = "L";
  });
  return d;
}

function chosenLayout(data) {
  if (trendLayout) return trendLayout;
  const series = trendSeries(data);
  if (series.length < 2) return "together";
  const peaks = series.map((s) => Math.max(0, ...s.points.map((p) => Number(p[trendMetric])).filter((v) => !isNaN(v))));
  return Math.min(...peaks) < CRUSHED * Math.max(...peaks) ? "panels" : "together";
}

// Small multiples: one panel per series, two across, each with its own scale (the scale is printed on it).
function drawPanels(data, chart) {
  const series = trendSeries(data);
  const periods = [...new Set(series.flatMap((s) => s.points.map((p) => String(p.period))))].sort();
  if (!periods.length) { showStatus("No sales in this selection."); return; }
  const column = new Map(periods.map((p, i) => [p, i]));
  const W = 760, across = 2, gap = 20, panelW = (W - gap) / across, panelH = 120;
  const rows = Math.ceil(series.length / across);
  const H = rows * (panelH + gap);
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, "aria-label": `${label(trendMetric)} per ${data.period_type}, ` +
                          "one panel per series"}, chart);
  series.forEach((s, i) => {
    const ox = (i % across) * (panelW + gap), oy = Math.floor(i / across) * (panelH + gap);
    const panel = svg("g", {class: "panel", "data-series": s.name, transform: `translate(${ox},${oy})`}, root);
    const values = s.points.map((p) => ({period: String(p.period), value: Number(p[trendMetric])}));
    const numbers = values.map((v) => v.value).filter((v) => !isNaN(v));
    const total = numbers.reduce((a, b) => a + b, 0);
    svgText(panel, 0, 12, truncate(s.name, 34), {class: "panel-title"});
    svgText(panel, panelW, 12, "total " + formatValue(trendMetric, total, true),
            {"text-anchor": "end", class: "panel-total"});
    const left = 48, right = 6, top = 22, bottom = 18;
    const ticks = niceTicks(0, Math.max(...numbers, 0), 3);
    const y = linear(ticks[0], ticks[ticks.length - 1], panelH - bottom, top);
    const x = periods.length > 1 ? linear(0, periods.length - 1, left, panelW - right) : () => (left + panelW - right) / 2;
    yAxis(panel, ticks, y, left, panelW - right, trendMetric);
    const xAxis = svg("g", {class: "axis x-axis"}, panel);
    svg("line", {x1: left, x2: panelW - right, y1: panelH - bottom, y2: panelH - bottom}, xAxis);
    for (const [i2, anchor] of [[0, "start"], [periods.length - 1, "end"]]) {
      svgText(xAxis, x(i2), panelH - bottom + 13, periods[i2], {"text-anchor": anchor, class: "tick-label x-label"});
    }
    const color = seriesColor(i);
    const d = linePath(periods, values, x, y);
    svg("path", {d, fill: "none", stroke: color, "stroke-width": 2, class: "series-line", "data-series": s.name}, panel);
    const dots = svg("g", {class: "points", "data-series": s.name}, panel);
    for (const v of values) {
      if (isNaN(v.value)) continue;
      tooltip(svg("circle", {cx: x(column.get(v.period)).toFixed(1), cy: y(v.value).toFixed(1), r: 2.5, fill: color,
                             class: "point", "data-series": s.name, "data-period": v.period, "data-value": v.value},
                  dots), `${s.name} · ${v.period}: ${formatValue(trendMetric, v.value)}`);
    }
  });
}

function renderTrend(data, chart) {
  const pickers = clear($("pickers"));
  const group = html("div", {class: "segmented", role: "group", "aria-label": "Metric"});
  for (const metric of TREND_METRICS) {
    const button = html("button", {type: "button", "data-metric": metric, "aria-pressed": String(metric === trendMetric),
                                   text: label(metric)});
    button.onclick = () => { trendMetric = metric; renderTrend(App.result, clear($("chart"))); };
    group.appendChild(button);
  }
  pickers.appendChild(group);
  const layout = chosenLayout(data);
  if (trendSeries(data).length > 1) {
    const layouts = html("div", {class: "segmented", role: "group", "aria-label": "Layout"});
    for (const [value, text] of [["together", "One scale"], ["panels", "Each its own scale"]]) {
      const button = html("button", {type: "button", "data-layout": value, "aria-pressed": String(value === layout),
                                     text});
      button.onclick = () => { trendLayout = value; renderTrend(App.result, clear($("chart"))); };
      layouts.appendChild(button);
    }
    pickers.appendChild(layouts);
  }
  const stores = Array.isArray(data.stores) ? data.stores : [];
  $("subtitle").textContent = `${label(trendMetric)} per ${data.period_type || "period"}, ${data.period || ""} · ` +
    (stores.length === 1 ? storeName(stores[0]) : `${stores.length} stores`) +
    (Array.isArray(data.categories) && data.categories.length ? ` · ${data.categories.length} categories` : "");
  const scales = layout === "panels" ? "Each panel has its own scale." : null;
  $("footnote").textContent = [scales, data.note, data.source ? "Source: " + data.source : null].filter(Boolean)
    .join(" · ");
  if (layout === "panels") drawPanels(data, chart); else drawTrend(data, chart);
}

startView({
  render: renderTrend,
  controls: (data) => [
    {name: "period", label: "Per", value: data.period_type || "month",
     options: ["month", "quarter", "year"].map((p) => ({value: p, label: p}))},
    ...dateFields(data),
    storeField("stores", Bridge.input.stores),
  ],
});
