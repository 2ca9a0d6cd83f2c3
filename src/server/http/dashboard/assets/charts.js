// @ts-check
// Small, fast line charts drawn as SVG (a few hundred points per series, redrawn once a second):
// a linear or logarithmic y axis, gaps where a series has no value, vertical markers for events
// (leader changes). Colours and dash patterns come from CSS classes, so series differ by more than
// colour and follow the light or dark theme.
import { svg } from './dom.js';

/**
 * @typedef {{ name: string, className: string, values: (number | null)[] }} Series
 * @typedef {{ index: number, label: string }} Marker
 * @typedef {{ series: Series[], scale: 'linear' | 'log', formatTick: (value: number) => string, markers: Marker[], xLabels: { index: number, label: string }[] }} ChartData
 */

const PADDING = { left: 52, right: 10, top: 10, bottom: 22 };

/** A round step at or above value: 1, 2, 2.5, 5 × 10^n. @param {number} value */
function niceStep(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/**
 * @param {Series[]} series
 * @param {'linear' | 'log'} scale
 * @returns {{ low: number, high: number, ticks: number[] }}
 */
function yRange(series, scale) {
  const values = series.flatMap((item) => item.values).filter((value) => value !== null && value > 0).map(Number);
  if (scale === 'linear') {
    // Whole numbers: these are counts per second. About four steps up to the highest value.
    const step = Math.max(1, niceStep(Math.max(0, ...values) / 4));
    const high = step * Math.max(1, Math.ceil(Math.max(0, ...values) / step));
    const ticks = [];
    for (let tick = 0; tick <= high; tick += step) ticks.push(tick);
    return { low: 0, high, ticks };
  }
  const low = values.length === 0 ? 0.1 : 10 ** Math.floor(Math.log10(Math.min(...values)));
  const high = values.length === 0 ? 100 : 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.0001));
  const ticks = [];
  for (let tick = low; tick <= high * 1.0001; tick *= 10) ticks.push(tick);
  return { low, high: Math.max(high, low * 10), ticks };
}

/**
 * Redraws the chart into the SVG element, sized to its box on the page.
 * @param {SVGSVGElement} element
 * @param {ChartData} data
 */
export function drawChart(element, data) {
  const width = Math.max(160, Math.round(element.clientWidth || 480));
  const height = Math.max(100, Math.round(element.clientHeight || 180));
  element.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const plotWidth = width - PADDING.left - PADDING.right;
  const plotHeight = height - PADDING.top - PADDING.bottom;
  const count = Math.max(2, ...data.series.map((item) => item.values.length));
  const { low, high, ticks } = yRange(data.series, data.scale);
  /** @param {number} index */
  const x = (index) => PADDING.left + (index / (count - 1)) * plotWidth;
  /** @param {number} value */
  const y = (value) => {
    const fraction = data.scale === 'linear' ? value / high : (Math.log10(Math.max(value, low)) - Math.log10(low)) / (Math.log10(high) - Math.log10(low));
    return PADDING.top + plotHeight * (1 - Math.min(1, Math.max(0, fraction)));
  };
  const parts = [];
  for (const tick of ticks) {
    parts.push(svg('line', { class: 'grid', x1: PADDING.left, x2: width - PADDING.right, y1: y(tick), y2: y(tick) }));
    parts.push(svg('text', { class: 'tick', x: PADDING.left - 6, y: y(tick) + 4, 'text-anchor': 'end' }, data.formatTick(tick)));
  }
  for (const label of data.xLabels) {
    parts.push(svg('text', { class: 'tick', x: x(label.index), y: height - 6, 'text-anchor': label.index === 0 ? 'start' : label.index >= count - 1 ? 'end' : 'middle' }, label.label));
  }
  for (const marker of data.markers) {
    parts.push(svg('line', { class: 'marker', x1: x(marker.index), x2: x(marker.index), y1: PADDING.top, y2: PADDING.top + plotHeight }));
    // Labels near the right edge go on the line's left, so they are not cut off.
    const nearEnd = x(marker.index) > width - PADDING.right - 24;
    parts.push(svg('text', { class: 'marker-label', x: x(marker.index) + (nearEnd ? -3 : 3), y: PADDING.top + 10, 'text-anchor': nearEnd ? 'end' : 'start' }, marker.label));
  }
  for (const item of data.series) {
    parts.push(svg('path', { class: `line ${item.className}`, d: pathOf(item.values, x, y) }));
    // A value without neighbours is a point, not a line: draw it as a dot.
    item.values.forEach((value, index) => {
      if (value !== null && (item.values[index - 1] ?? null) === null && (item.values[index + 1] ?? null) === null) {
        parts.push(svg('circle', { class: `dot ${item.className}`, cx: x(index).toFixed(1), cy: y(value).toFixed(1), r: 2.5 }));
      }
    });
  }
  element.replaceChildren(...parts);
}

/**
 * "M x y L x y ..." with a new segment after every gap (null).
 * @param {(number | null)[]} values
 * @param {(index: number) => number} x
 * @param {(value: number) => number} y
 */
function pathOf(values, x, y) {
  let path = '';
  let drawing = false;
  values.forEach((value, index) => {
    if (value === null) {
      drawing = false;
      return;
    }
    path += `${drawing ? 'L' : 'M'}${x(index).toFixed(1)} ${y(value).toFixed(1)}`;
    drawing = true;
  });
  return path;
}
