// Renders the benchmark results as a self-contained SVG: exact-search p50 latency and insert
// throughput per scenario, lancestore beside @lancedb/lancedb.
'use strict'

const COLORS = { lancestore: '#2563eb', '@lancedb/lancedb': '#f59e0b' }

function panel({ x, y, width, height, title, unit, groups, value }) {
  const systems = Object.keys(COLORS)
  const values = groups.flatMap((g) => systems.map((s) => value(g, s) ?? 0))
  const max = Math.max(...values, 1e-9)
  const groupWidth = width / Math.max(groups.length, 1)
  const barWidth = Math.min(36, (groupWidth - 20) / systems.length)
  const parts = [`<text x="${x}" y="${y - 8}" font-size="14" font-weight="bold">${title} (${unit})</text>`]
  parts.push(`<line x1="${x}" y1="${y + height}" x2="${x + width}" y2="${y + height}" stroke="#999"/>`)
  groups.forEach((g, gi) => {
    systems.forEach((s, si) => {
      const v = value(g, s)
      if (v == null) return
      const h = (v / max) * (height - 16)
      const bx = x + gi * groupWidth + 10 + si * barWidth
      parts.push(`<rect x="${bx.toFixed(1)}" y="${(y + height - h).toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[s]}"/>`)
      const label = v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 1 : 2)
      parts.push(`<text x="${(bx + (barWidth - 4) / 2).toFixed(1)}" y="${(y + height - h - 3).toFixed(1)}" font-size="9" text-anchor="middle">${label}</text>`)
    })
    parts.push(`<text x="${(x + gi * groupWidth + groupWidth / 2).toFixed(1)}" y="${y + height + 14}" font-size="10" text-anchor="middle">${g}</text>`)
  })
  return parts.join('\n')
}

function renderChart(doc) {
  const scenarios = [...new Set(doc.results.filter((r) => !r.skipped && !r.error).map((r) => r.scenario))]
  const get = (scenario, system) => doc.results.find((r) => r.scenario === scenario && r.system === system)
  const width = 980
  const body = [
    panel({ x: 40, y: 84, width: 440, height: 260, title: 'Exact search p50', unit: 'ms, lower is better', groups: scenarios, value: (g, s) => get(g, s)?.exact?.p50 }),
    panel({ x: 520, y: 84, width: 440, height: 260, title: 'Insert, batches of 10,000', unit: 'vectors/s, higher is better', groups: scenarios, value: (g, s) => get(g, s)?.insertPerSecBatch10k }),
  ]
  const legend = Object.entries(COLORS)
    .map(([name, color], i) => `<rect x="${40 + i * 160}" y="384" width="12" height="12" fill="${color}"/><text x="${58 + i * 160}" y="394" font-size="12">${name}</text>`)
    .join('\n')
  const env = doc.environment
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="410" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="40" y="24" font-size="16" font-weight="bold">lancestore vs @lancedb/lancedb ${env.lancedbSdk}${doc.quick ? ' (quick sizes)' : ''}</text>
<text x="40" y="42" font-size="11" fill="#555">${doc.date} · ${env.cpus} CPUs · Node ${env.node} · medians, warm-up excluded</text>
${body.join('\n')}
${legend}
</svg>
`
}

module.exports = { renderChart }
