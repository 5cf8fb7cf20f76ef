// Curves over a clip's frames with a playhead that follows the video: the state/action vectors of
// robot episodes and the retargeted joint angles of human clips; also the time axis and playhead
// that the presence timeline shares. viewer.js builds it once with the clip's frame count and fps,
// so every drawing maps a frame to the same x.
window.egoParts = window.egoParts || {};
window.egoParts.charts = (n, fps) => {
  'use strict';
  const SERIES_COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04',
    '#db2777', '#4b5563', '#65a30d', '#7c3aed', '#0d9488'];
  const AXIS_H = 16, LEGEND_W = 170;
  const xOfFrame = (f, x0, w) => x0 + (f / n) * w;

  function paintTimeAxis(ctx, x0, w, y) {
    ctx.fillStyle = '#6b7280';
    ctx.font = '11px sans-serif';
    const seconds = n / fps, step = [1, 2, 5, 10, 15, 30, 60, 120, 300].find((s) => seconds / s <= 8) || 600;
    for (let s = 0; s <= seconds + 1e-9; s += step) {
      const x = x0 + (s / seconds) * w;
      ctx.fillRect(x, y, 1, 4);
      ctx.fillText(s + ' s', Math.min(x + 2, x0 + w - 24), y + 13);
    }
  }

  function drawPlayhead(ctx, x, h) {
    ctx.fillStyle = '#111827';
    ctx.fillRect(Math.round(x) - 1, 0, 2, h);
  }

  function seriesRange(series) {
    let lo = Infinity, hi = -Infinity;
    for (const values of series.values) {
      for (const v of values) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!Number.isFinite(lo)) return [0, 1];
    const pad = (hi - lo) * 0.05 || 0.5;
    return [lo - pad, hi + pad];
  }

  function plotBox(chart) {
    return {x0: 44, y0: 24, w: chart.w - 44 - LEGEND_W - 8, h: chart.h - 24 - AXIS_H};
  }

  function paintChart(ctx, chart) {
    const box = plotBox(chart), [lo, hi] = chart.range;
    const yOf = (v) => box.y0 + box.h - ((v - lo) / (hi - lo)) * box.h;
    ctx.fillStyle = '#111827';
    ctx.font = '600 12px sans-serif';
    ctx.fillText(chart.series.title, 0, 12);
    ctx.strokeStyle = '#e5e7eb';
    ctx.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.w, box.h);
    ctx.fillStyle = '#6b7280';
    ctx.font = '11px sans-serif';
    for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(v.toPrecision(3), 0, yOf(v) + 4);
    paintTimeAxis(ctx, box.x0, box.w, box.y0 + box.h);
    chart.series.values.forEach((values, d) => {
      ctx.strokeStyle = SERIES_COLORS[d % SERIES_COLORS.length];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let pen = false;
      values.forEach((v, f) => {
        if (v === null) { pen = false; return; }
        const x = xOfFrame(f + 0.5, box.x0, box.w), y = yOf(v);
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
    });
  }

  // The static curves are painted once (`chart.static`); each frame only adds the playhead and the
  // legend's current values.
  function drawChart(chart, f) {
    const box = plotBox(chart), ctx = chart.ctx;
    ctx.clearRect(0, 0, chart.w, chart.h);
    ctx.drawImage(chart.static, 0, 0, chart.w, chart.h);
    drawPlayhead(ctx, xOfFrame(f + 0.5, box.x0, box.w), box.y0 + box.h);
    const lx = chart.w - LEGEND_W, lineH = Math.min(15, (chart.h - 4) / Math.max(1, chart.series.names.length));
    ctx.font = '11px sans-serif';
    chart.series.names.forEach((name, d) => {
      const y = 4 + d * lineH, v = chart.series.values[d][f];
      ctx.fillStyle = SERIES_COLORS[d % SERIES_COLORS.length];
      ctx.fillRect(lx, y + 2, 8, 8);
      ctx.fillStyle = '#374151';
      ctx.fillText(name.length > 16 ? name.slice(0, 15) + '.' : name, lx + 12, y + 10);
      ctx.fillText(v === null || v === undefined ? '-' : v.toFixed(3), lx + 118, y + 10);
    });
  }

  return {AXIS_H, xOfFrame, paintTimeAxis, drawPlayhead, seriesRange, plotBox, paintChart, drawChart};
};
