// tradebot dashboard: live rows by server-sent events, the equity chart and the slippage bars.
// Loaded from this origin only (the Content-Security-Policy allows nothing else).
(function () {
  "use strict";
  const KEEP = 60; // rows kept in the live table

  function live() {
    const table = document.querySelector("[data-live]");
    if (!table || !window.EventSource) return;
    const body = table.querySelector("tbody");
    const badge = document.getElementById("live");
    const source = new EventSource(table.dataset.live); // relative: works under a sub-path
    let refresh = null;
    source.addEventListener("open", () => badge && (badge.dataset.state = "open"));
    source.addEventListener("error", () => badge && (badge.dataset.state = "error"));
    source.addEventListener("entry", (event) => {
      if (!refresh) body.querySelectorAll("tr.fresh").forEach((r) => r.classList.remove("fresh"));
      const empty = body.querySelector("tr.empty");
      if (empty) empty.remove();
      body.insertAdjacentHTML("afterbegin", event.data);
      body.rows[0].classList.add("fresh");
      while (body.rows.length > KEEP) body.deleteRow(-1);
      // counts and the last signal: one htmx refresh of the summary per burst of rows
      clearTimeout(refresh);
      refresh = setTimeout(() => {
        refresh = null;
        if (window.htmx) htmx.trigger(document.body, "refresh");
      }, 150);
    });
  }

  const COLOURS = ["#1d5fb8", "#17803d", "#a15c00", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f"];

  // every chart of the page (Performance with several accounts: one per account, each drawn
  // from its own figures)
  function chart() {
    if (!window.uPlot) return;
    document.querySelectorAll("[data-chart]").forEach(drawChart);
  }

  function drawChart(box) {
    fetch(box.dataset.chart, { headers: { Accept: "application/json" } })
      .then((r) => r.json())
      .then((view) => {
        const c = view.chart;
        if (!c) return;
        const series = [{}].concat(c.labels.map((label, i) => {
          const all = i === c.labels.length - 1;
          return {
            label: label,
            stroke: all ? "#1d2330" : COLOURS[i % COLOURS.length],
            width: all ? 2.5 : 1.5,
            value: (u, v) => (v == null ? "–" : v.toFixed(2)),
          };
        }));
        const opts = {
          width: Math.max(box.clientWidth - 16, 320),
          height: 320,
          series: series,
          scales: { x: { time: true } },
          axes: [{}, { label: "realised P&L", size: 70 }],
        };
        const plot = new uPlot(opts, c.data, box);
        box.dataset.drawn = "true";
        window.addEventListener("resize", () =>
          plot.setSize({ width: Math.max(box.clientWidth - 16, 320), height: 320 }));
      })
      .catch(() => { box.textContent = "the chart could not be loaded"; });
  }

  // slippage per algorithm and style, one bar each (the execution table's last column)
  function bars() {
    if (!window.uPlot) return;
    document.querySelectorAll("[data-bars]").forEach(drawBars);
  }

  function drawBars(box) {
    fetch(box.dataset.bars, { headers: { Accept: "application/json" } })
      .then((r) => r.json())
      .then((view) => {
        const c = view.execution_chart;
        if (!c) return;
        const xs = c.labels.map((_, i) => i);
        const opts = {
          width: Math.max(box.clientWidth - 16, 320),
          height: 220,
          scales: { x: { time: false, range: [-0.5, xs.length - 0.5] } },
          series: [{}, {
            label: "slippage bps",
            stroke: COLOURS[0],
            fill: "rgba(29, 95, 184, 0.35)",
            paths: uPlot.paths.bars({ size: [0.6, 80] }),
            points: { show: false },
            value: (u, v) => (v == null ? "–" : v.toFixed(2)),
          }],
          axes: [
            { splits: () => xs, values: (u, splits) => splits.map((i) => c.labels[i] || "") },
            { label: "slippage bps", size: 70 },
          ],
        };
        new uPlot(opts, [xs, c.slippage_bps], box);
        box.dataset.drawn = "true";
      })
      .catch(() => { box.textContent = "the chart could not be loaded"; });
  }

  document.addEventListener("DOMContentLoaded", () => { live(); chart(); bars(); });
})();
