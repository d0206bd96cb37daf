// Plain SVG charts (no library, no CDN): grouped bars per day and lines for percentiles. Each
// chart has a <title>/<desc> and a data table fallback for screen readers.
import { h, fmtNumber } from "./ui.js";

const NS = "http://www.w3.org/2000/svg";
const W = 640, H = 220, PAD = { l: 48, r: 12, t: 12, b: 28 };

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function frame(title, labels, max) {
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", preserveAspectRatio: "xMidYMid meet" },
    s("title", {}, title));
  const ih = H - PAD.t - PAD.b;
  for (let i = 0; i <= 4; i++) {
    const y = PAD.t + ih - (ih * i) / 4;
    svg.append(s("line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: "grid" }),
      s("text", { x: PAD.l - 6, y: y + 4, class: "axis", "text-anchor": "end" }, fmtNumber((max * i) / 4, max < 10 ? 1 : 0)));
  }
  const step = Math.max(1, Math.ceil(labels.length / 8));
  const bw = (W - PAD.l - PAD.r) / Math.max(labels.length, 1);
  labels.forEach((label, i) => {
    if (i % step === 0) svg.append(s("text", { x: PAD.l + bw * i + bw / 2, y: H - 8, class: "axis", "text-anchor": "middle" }, label));
  });
  return { svg, ih, bw };
}

// series: [{name, values, cls}] over the same labels
export function barChart(title, labels, series) {
  const max = Math.max(1, ...series.flatMap((x) => x.values));
  const { svg, ih, bw } = frame(title, labels, max);
  const gw = (bw * 0.8) / series.length;
  series.forEach((x, si) => x.values.forEach((v, i) => {
    const bh = (ih * v) / max;
    svg.append(s("rect", { x: PAD.l + bw * i + bw * 0.1 + gw * si, y: PAD.t + ih - bh, width: Math.max(gw - 1, 1), height: bh,
      class: `bar ${x.cls}` }, s("title", {}, `${labels[i]} · ${x.name}: ${fmtNumber(v, 2)}`)));
  }));
  return wrap(title, labels, series, svg);
}

export function lineChart(title, labels, series) {
  const max = Math.max(1, ...series.flatMap((x) => x.values.filter((v) => v !== null)));
  const { svg, ih, bw } = frame(title, labels, max);
  for (const x of series) {
    const pts = x.values.map((v, i) => (v === null ? null : [PAD.l + bw * i + bw / 2, PAD.t + ih - (ih * v) / max]));
    const d = pts.filter(Boolean).map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
    if (d) svg.append(s("path", { d, class: `line ${x.cls}` }));
    pts.forEach((p, i) => p && svg.append(s("circle", { cx: p[0], cy: p[1], r: 3, class: `dot ${x.cls}` },
      s("title", {}, `${labels[i]} · ${x.name}: ${fmtNumber(x.values[i], 0)}`))));
  }
  return wrap(title, labels, series, svg);
}

function wrap(title, labels, series, svg) {
  const legend = h("ul.legend", series.map((x) => h("li", h("span", { class: `swatch ${x.cls}`, "aria-hidden": "true" }), x.name)));
  const fallback = h("details.chart-data", h("summary", title),
    h("table", h("thead", h("tr", h("th", ""), series.map((x) => h("th", { scope: "col" }, x.name)))),
      h("tbody", labels.map((l, i) => h("tr", h("th", { scope: "row" }, l), series.map((x) => h("td", fmtNumber(x.values[i], 2))))))));
  return h("figure.chart-box", h("figcaption", title), svg, legend, fallback);
}
