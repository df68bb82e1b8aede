#!/usr/bin/env node
// One benchmark scenario for one system, in its own process (so peak RSS is this system's alone).
// Usage: node bench/scenario.js <system> <scenario-name> [--quick]; prints one JSON line.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { loadScenario, rng } = require('./data')
const scenarios = require('./scenarios')
const systems = require('./systems')

const [systemName, scenarioName, ...flags] = process.argv.slice(2)
const quick = flags.includes('--quick')
const spec = (quick ? scenarios.quick : scenarios.full).find((s) => s.name === scenarioName)
const system = systems[systemName]
if (!spec || !system) {
  console.error(`unknown system or scenario: ${systemName} ${scenarioName}`)
  process.exit(2)
}

const WARMUP = quick ? 5 : 20
const PASSES = quick ? 1 : 3
const K = 10

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[(s.length - 1) >> 1] : null
}
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]

function rowsOf(data, from, to) {
  const rows = []
  for (let i = from; i < to; i++) {
    rows.push({ id: `row-${i}`, vector: data.base.subarray(i * data.dim, (i + 1) * data.dim), metadata: { row: i, section: data.sections ? data.sections[i] : null } })
  }
  return rows
}

const query = (data, q) => data.queries.subarray(q * data.dim, (q + 1) * data.dim)

/** Inserts the whole base into a fresh directory in batches of `batch`; vectors/s. */
async function insertRate(data, batch, dir) {
  const store = await system.open(dir, data.dim)
  const t0 = performance.now()
  for (let from = 0; from < data.n; from += batch) await store.add(rowsOf(data, from, Math.min(data.n, from + batch)))
  const seconds = (performance.now() - t0) / 1000
  await store.close()
  return data.n / seconds
}

/** Latency percentiles over the query set: warm-up excluded, median of `PASSES` passes. */
async function latency(store, data, section = null) {
  const qs = Array.from({ length: data.nQueries }, (_, q) => q)
  for (let w = 0; w < WARMUP; w++) await store.search(query(data, qs[w % qs.length]), K, section)
  const passes = []
  for (let p = 0; p < PASSES; p++) {
    const times = []
    for (const q of qs) {
      const t0 = performance.now()
      await store.search(query(data, q), K, section)
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    passes.push({ p50: pct(times, 0.5), p95: pct(times, 0.95), p99: pct(times, 0.99) })
  }
  return { p50: median(passes.map((x) => x.p50)), p95: median(passes.map((x) => x.p95)), p99: median(passes.map((x) => x.p99)), queries: qs.length, passes: PASSES, warmup: WARMUP }
}

async function recallAt10(store, data) {
  if (!data.gt) return null
  let sum = 0
  for (let q = 0; q < data.nQueries; q++) {
    const ids = await store.search(query(data, q), K)
    const truth = new Set(Array.from(data.gt.subarray(q * 100, q * 100 + K), (r) => `row-${r}`))
    sum += ids.filter((id) => truth.has(id)).length / K
  }
  return sum / data.nQueries
}

async function zipfHitRatio(dir, data) {
  const store = await system.open(dir, data.dim, { performance: { cacheSize: 100 } })
  const distinct = Math.min(200, data.nQueries)
  const weights = Array.from({ length: distinct }, (_, i) => 1 / (i + 1))
  const total = weights.reduce((a, b) => a + b, 0)
  const random = rng(7)
  for (let s = 0; s < (quick ? 1_000 : 5_000); s++) {
    let x = random() * total
    let q = 0
    while (q < distinct - 1 && (x -= weights[q]) > 0) q++
    await store.search(query(data, q), K)
  }
  const stats = await store.stats()
  await store.close()
  return stats.cache.hitRatio
}

/** 2,000 single-row commits, then optimize(): search p50 before and after, beside one bulk add. */
async function smallCommits(root, data) {
  const n = Math.min(quick ? 300 : 2_000, data.n)
  const sub = { ...data, n, nQueries: Math.min(data.nQueries, 100) }
  const bulk = await system.open(path.join(root, 'bulk'), data.dim, { performance: { enableQueryCache: false } })
  await bulk.add(rowsOf(data, 0, n))
  const bulkP50 = (await latency(bulk, sub)).p50
  await bulk.close()
  const small = await system.open(path.join(root, 'small'), data.dim, { performance: { enableQueryCache: false, autoOptimizeEvery: 0 } })
  for (let i = 0; i < n; i++) await small.add(rowsOf(data, i, i + 1))
  const beforeP50 = (await latency(small, sub)).p50
  // Nothing else reads this table, so no old version needs keeping (lancestore; the peer's own defaults).
  await small.optimize(systemName === 'lancestore' ? { retainVersionsSeconds: 0 } : undefined)
  const afterP50 = (await latency(small, sub)).p50
  await small.close()
  return { rows: n, bulkP50, beforeOptimizeP50: beforeP50, afterOptimizeP50: afterP50 }
}

/** usearch: exact search, then its HNSW index; in memory, so no inserts, reopen or filters. */
async function usearchScenario(data, result) {
  const index = system.load(data)
  result.exact = await latency(index, data)
  result.recallAt10 = await recallAt10(index, data)
  const t0 = performance.now()
  index.buildIndex()
  result.indexBuildMs = performance.now() - t0
  result.indexKind = 'hnsw'
  result.indexed = await latency(index, data)
  result.indexedRecallAt10 = await recallAt10(index, data)
  result.peakRssBytes = process.resourceUsage().maxRSS * 1024
  result.rawVectorBytes = data.n * data.dim * 4
  console.log(JSON.stringify(result))
}

/** Waits until the store answers searches from its resident copy (it loads in the background). */
async function residentReady(store) {
  for (let i = 0; i < 6000; i++) {
    const { resident, version } = await store.stats()
    if (resident.state === 'ready' && resident.version === version) return
    if (resident.state === 'over_budget' || resident.state === 'off') return
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Waits until the store's HNSW graph covers every row (loaded from its file or built); ms waited. */
async function graphReady(store) {
  const t0 = performance.now()
  for (let i = 0; i < 60000; i++) {
    const { index } = await store.stats()
    if (index.kind !== 'hnsw' || (index.unindexedRows === 0 && !index.building && index.indexedRows > 0)) break
    await new Promise((r) => setTimeout(r, 5))
  }
  return performance.now() - t0
}

async function main() {
  const data = loadScenario(spec)
  if (data.missing) {
    console.log(JSON.stringify({ system: system.name, scenario: spec.name, skipped: data.missing }))
    return
  }
  if (systemName === 'usearch') {
    await usearchScenario(data, { system: system.name, scenario: spec.name, n: data.n, dim: data.dim, queries: data.nQueries })
    return
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${systemName}-`))
  const result = { system: system.name, scenario: spec.name, n: data.n, dim: data.dim, queries: data.nQueries }
  try {
    if (!spec.big) result.insertPerSecBatch1k = await insertRate(data, 1_000, path.join(root, 'b1k'))
    if (spec.oneCall) result.insertPerSecOneCall = await insertRate(data, data.n, path.join(root, 'one'))
    const main = path.join(root, 'b10k')
    result.insertPerSecBatch10k = await insertRate(data, 10_000, main)

    const peakMiB = () => Math.round(process.resourceUsage().maxRSS / 1024)
    result.peakRssMiBByPhase = { inserted: peakMiB() }
    let t0 = performance.now()
    const store = await system.open(main, data.dim)
    result.openMs = performance.now() - t0
    t0 = performance.now()
    await store.search(query(data, 0), K)
    result.firstSearchMs = performance.now() - t0

    if (systemName === 'lancestore') {
      // Exact search with the cache off, so every query does the work: first through LanceDB
      // (residentMemoryMB: 0), then from the resident copy (the default).
      const lancePath = await system.open(main, data.dim, { performance: { enableQueryCache: false, residentMemoryMB: 0 } })
      result.exactLance = await latency(lancePath, data)
      if (data.sections) result.filteredLance = await latency(lancePath, data, 'libs')
      await lancePath.close()
      const uncached = await system.open(main, data.dim, { performance: { enableQueryCache: false } })
      await residentReady(uncached)
      result.resident = (await uncached.stats()).resident
      result.peakRssMiBByPhase.residentLoaded = peakMiB()
      result.exact = await latency(uncached, data)
      result.recallAt10 = await recallAt10(uncached, data)
      if (data.sections) result.filtered = await latency(uncached, data, 'libs')
      await uncached.close()
      await latency(store, data) // fills the cache
      result.cached = await latency(store, data)
      result.cacheHitRatioZipf = await zipfHitRatio(main, data)
    } else {
      result.exact = await latency(store, data)
      result.recallAt10 = await recallAt10(store, data)
      if (data.sections) result.filtered = await latency(store, data, 'libs')
    }
    try {
      const t0 = performance.now()
      // --quick tables are below lancestore's crossover, where "auto" keeps exact search: name the kind.
      result.peakRssMiBByPhase.beforeIndexBuild = peakMiB()
      const report = await store.createIndex(quick ? 'hnsw' : 'auto')
      result.indexBuildMs = performance.now() - t0
      result.peakRssMiBByPhase.indexBuilt = peakMiB()
      if (report) result.indexKind = report.kind
      // lancestore measured with its query cache off, like the exact rows: every query does the work.
      let indexed = store
      if (systemName === 'lancestore') {
        // The store that built the index closes, and a new one opens the table: its graph comes from the
        // file beside the table (as in a restarted process), not from a rebuild.
        await store.close()
        const opened = performance.now()
        indexed = await system.open(main, data.dim, { performance: { enableQueryCache: false } })
        await residentReady(indexed)
        await graphReady(indexed)
        result.openToGraphReadyMs = performance.now() - opened
        const { index, resident } = await indexed.stats()
        result.graph = index.graph
        result.residentBytes = resident.bytes
      }
      result.indexed = await latency(indexed, data)
      result.indexedRecallAt10 = await recallAt10(indexed, data)
      if (data.sections) result.indexedFiltered = await latency(indexed, data, 'libs')
      if (indexed !== store) await indexed.close()
    } catch (err) {
      result.indexError = String(err.message ?? err)
    }
    await store.close() // a second close is harmless
    if (spec.name === 'real-minilm-384') result.smallCommits = await smallCommits(root, data)
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
  result.peakRssBytes = process.resourceUsage().maxRSS * 1024
  result.rawVectorBytes = data.n * data.dim * 4
  console.log(JSON.stringify(result))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
