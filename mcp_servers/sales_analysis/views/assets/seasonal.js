// seasonal_profile: twelve columns, one per calendar month, of revenue indexed to the average month;
// the line at 1.0 is the average, peak months in the accent colour, low months muted.
const MONTH_ORDER = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

function drawSeasonal(data, chart) {
  const byMonth = new Map((Array.isArray(data.months) ? data.months : []).map((m) => [String(m.month), m]));
  const months = MONTH_ORDER.filter((m) => byMonth.has(m));
  if (!months.length) { showStatus("No complete year of sales to profile."); return; }
  const peaks = new Set((data.peak_months || []).map(String)), lows = new Set((data.low_months || []).map(String));
  const W = 760, H = 280, left = 56, right = 16, top = 20, bottom = 40;
  const values = months.map((m) => Number(byMonth.get(m).index));
  const ticks = niceTicks(0, Math.max(1.2, ...values), 5);
  const y = linear(0, ticks[ticks.length - 1], H - bottom, top);
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, "aria-label": "Revenue index per calendar month"}, chart);
  yAxis(root, ticks, y, left, W - right, "index");
  const step = (W - right - left) / months.length;
  months.forEach((m, i) => {
    const point = byMonth.get(m), value = Number(point.index);
    const kind = peaks.has(m) ? "peak" : lows.has(m) ? "low" : "normal";
    const colour = kind === "peak" ? "var(--series-1)" : kind === "low" ? "var(--compare)" : "var(--series-0)";
    const x = left + i * step + step * 0.15;
    const bar = svg("rect", {x: x.toFixed(1), y: y(value).toFixed(1), width: (step * 0.7).toFixed(1),
                             height: Math.max(0, y(0) - y(value)).toFixed(1), fill: colour, class: `bar month ${kind}`,
                             "data-month": m, "data-value": value}, root);
    tooltip(bar, `${m}: index ${value.toFixed(2)}, revenue ${formatValue("revenue", Number(point.revenue))}`);
    svgText(root, x + step * 0.35, y(value) - 5, value.toFixed(2), {"text-anchor": "middle", class: "value-label"});
    svgText(root, x + step * 0.35, H - bottom + 16, m.charAt(0).toUpperCase() + m.slice(1),
            {"text-anchor": "middle", class: "tick-label x-label"});
  });
  const average = svg("g", {class: "average"}, root);
  svg("line", {x1: left, x2: W - right, y1: y(1), y2: y(1), stroke: "var(--color-text-secondary)",
               "stroke-dasharray": "4 3", class: "average-line"}, average);
  chart.appendChild(legend([{name: "Peak months", color: "var(--series-1)"}, {name: "Other months", color: "var(--series-0)"},
                            {name: "Low months", color: "var(--compare)"},
                            {name: "Average month (1.0)", color: "var(--color-text-secondary)", dashed: true}]));
}

function renderSeasonal(data, chart) {
  $("pickers").replaceChildren();
  const stores = Array.isArray(data.stores) ? data.stores : [];
  $("subtitle").textContent = `${data.category ? data.category : "All categories"}, complete years ${data.years || ""} · ` +
    (stores.length === 1 ? storeName(stores[0]) : `${stores.length} stores`);
  $("footnote").textContent = data.source ? "Source: " + data.source : "";
  drawSeasonal(data, chart);
}

startView({
  render: renderSeasonal,
  controls: (data) => [
    {name: "category", label: "Category", value: Bridge.input.category || data.category || "",
     placeholder: "all categories", size: 18},
    storeField("stores", Bridge.input.stores),
  ],
});
