// The throughput chart: stacked bars of finished tasks per bucket, with a y-axis.

import { when } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const HEIGHT = 180;
const TOP = 8;
const BOTTOM = 20; // room for the time labels
const LEFT = 44; // room for the y-axis labels
const MAX_BARS = 60;
const KINDS = [
  ["ok", (b) => b.succeeded],
  ["retry", (b) => b.retried],
  ["bad", (b) => b.failed + b.dead_lettered],
];

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// At most MAX_BARS bars: neighbouring buckets are summed (an hour of 10 s buckets becomes
// 60 bars of a minute).
export function rebucket(throughput) {
  const per = Math.max(1, Math.ceil(throughput.buckets.length / MAX_BARS));
  const buckets = [];
  for (let i = 0; i < throughput.buckets.length; i += per) {
    const group = throughput.buckets.slice(i, i + per);
    const sum = (key) => group.reduce((total, b) => total + b[key], 0);
    buckets.push({
      time: group[0].time,
      succeeded: sum("succeeded"),
      retried: sum("retried"),
      failed: sum("failed"),
      dead_lettered: sum("dead_lettered"),
    });
  }
  return { seconds: throughput.bucket_seconds * per, buckets };
}

// The top of the y-axis: four grid steps of a round whole number (1, 2, 2.5 or 5 times a power
// of ten) that reach at least value.
export function niceCeiling(value) {
  const raw = value / 4;
  if (raw <= 1) return 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const step = m * power;
    if (Number.isInteger(step) && step >= raw) return 4 * step;
  }
  return 4 * Math.ceil(raw);
}

function period(seconds) {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

export function caption(seconds, minutes) {
  const span = minutes >= 60 ? "hour" : `${minutes} minutes`;
  return `finished tasks per ${period(seconds)}, last ${span}`;
}

function axis(width, bottom, top) {
  const nodes = [];
  for (let i = 0; i <= 4; i++) {
    const y = bottom - ((bottom - TOP) * i) / 4;
    const value = (top * i) / 4;
    nodes.push(svg("line", { x1: LEFT, y1: y, x2: width, y2: y, class: i ? "grid" : "axis" }));
    nodes.push(svg("text", { x: LEFT - 4, y: y + 3, class: "label tick end" }, String(value)));
  }
  nodes.push(svg("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: bottom, class: "axis" }));
  return nodes;
}

function bars(buckets, seconds, width, bottom, top) {
  const nodes = [];
  const barWidth = (width - LEFT) / Math.max(buckets.length, 1);
  buckets.forEach((b, i) => {
    let y = bottom;
    for (const [kind, count] of KINDS.map(([k, pick]) => [k, pick(b)])) {
      if (!count) continue;
      const h = ((bottom - TOP) * count) / top;
      y -= h;
      const bar = svg("rect", {
        x: (LEFT + i * barWidth + 1).toFixed(1),
        y: y.toFixed(1),
        width: Math.max(barWidth - 2, 1).toFixed(1),
        height: h.toFixed(1),
        class: kind,
      });
      bar.append(svg("title", {}, `${when(b.time)} (${period(seconds)}): ${count} ${kind}`));
      nodes.push(bar);
    }
  });
  return nodes;
}

let drawn = null; // the last chart drawn, to draw again at a new width

export function redraw() {
  if (drawn) renderChart(...drawn);
}

export function renderChart(chart, throughput) {
  drawn = [chart, throughput];
  const { seconds, buckets } = rebucket(throughput);
  const width = Math.max(Math.round(chart.getBoundingClientRect().width), 280);
  chart.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
  const bottom = HEIGHT - BOTTOM;
  const totals = buckets.map((b) => KINDS.reduce((sum, [, pick]) => sum + pick(b), 0));
  const top = niceCeiling(Math.max(0, ...totals));
  const nodes = [...axis(width, bottom, top), ...bars(buckets, seconds, width, bottom, top)];
  if (buckets.length) {
    nodes.push(svg("text", { x: LEFT, y: HEIGHT - 4, class: "label" }, when(buckets[0].time)));
    nodes.push(svg("text", { x: width - 2, y: HEIGHT - 4, class: "label end" }, "now"));
  }
  chart.replaceChildren(...nodes);
  return seconds;
}
