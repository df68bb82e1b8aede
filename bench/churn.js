#!/usr/bin/env node
// The churn benchmark (run by `npm run bench`): what steady small writes cost searches. The MiniLM 20k set
// (synthetic 20k × 384 when ../shared/data is absent; 4,000 rows with --quick) is stored with the defaults
// (autoIndex, automatic compaction every 100 commits), the graph is built, then single-row writes — adds,
// deletes and upserts in turn — each followed by one search. Reported: graph rebuilds and whole reloads of the
// resident copy during the writes (targets: 0), compactions the copy followed by re-pointing rows, search p99
// during the writes ÷ quiet p50, and usearch's HNSW under the same writes (add / remove, in memory) as the
// anchor, and usearch's HNSW searched right after each of the same commits made to a lancestore store (its
// searches then start with caches the commit cooled, as lancestore's do: the fair anchor for "during"). The
// full run then makes 10,000 single-row commits on a fresh table and reports the bytes compaction
// wrote per row added (write amplification).
// Usage: node bench/churn.js [--quick]; prints one JSON line last.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { EmbeddingStore } = require('..')
const { loadScenario, rng } = require('./data')

const quick = process.argv.includes('--quick')
const WRITES = quick ? 300 : 1_000
const AMPLIFICATION_COMMITS = quick ? 0 : 10_000

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] : null
}

function data() {
  const real = loadScenario({ kind: 'real', folder: 'minilm-384', n: quick ? 4_000 : 20_000, queries: 200 })
  if (!real.missing) return { ...real, source: 'MiniLM' }
  const n = quick ? 4_000 : 20_000
  return { ...loadScenario({ kind: 'synthetic', n: n + WRITES, dim: 384, queries: 200 }), n, source: 'synthetic' }
}

const row = (d, i) => d.base.subarray((i % d.n) * d.dim, ((i % d.n) + 1) * d.dim)
const query = (d, q) => d.queries.subarray((q % d.nQueries) * d.dim, ((q % d.nQueries) + 1) * d.dim)

async function until(check, what) {
  for (let i = 0; i < 24_000; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`waited 2 minutes for ${what}`)
}

/** A store in `dir` with the set's `d.n` rows (the query cache off), once its graph covers them all. */
async function storeWithGraph(d, dir) {
  const store = await EmbeddingStore.open(dir, { dimension: d.dim, performance: { enableQueryCache: false } })
  for (let from = 0; from < d.n; from += 5_000) {
    const to = Math.min(d.n, from + 5_000)
    await store.addEmbeddings(Array.from({ length: to - from }, (_, k) => ({ id: `r${from + k}`, vector: row(d, from + k) })))
  }
  await store.createIndex()
  await until(async () => {
    const s = await store.stats()
    return s.resident.state === 'ready' && s.index.graph && s.index.unindexedRows === 0 && !s.index.building
  }, 'the graph')
  return store
}

/** Quiet p50 and the writes' search latencies, rebuilds and reloads, for lancestore. */
async function lancestore(d, dir) {
  const store = await storeWithGraph(d, dir)
  const quiet = []
  for (let q = 0; q < 400; q++) {
    const t0 = performance.now()
    await store.search(query(d, q), { limit: 10 })
    if (q >= 50) quiet.push(performance.now() - t0)
  }
  const before = await store.stats()
  const during = []
  const random = rng(11)
  let next = d.n
  for (let w = 0; w < WRITES; w++) {
    const kind = w % 3
    if (kind === 0) await store.addEmbeddings([{ id: `n${next}`, vector: row(d, next++) }])
    else if (kind === 1) await store.delete([`r${Math.floor(random() * d.n)}`])
    else await store.upsertEmbeddings([{ id: `r${Math.floor(random() * d.n)}`, vector: row(d, next++) }])
    const t0 = performance.now()
    await store.search(query(d, w), { limit: 10 })
    during.push(performance.now() - t0)
  }
  const after = await store.stats()
  await store.close()
  return {
    quietP50: pct(quiet, 0.5),
    duringP50: pct(during, 0.5),
    duringP99: pct(during, 0.99),
    graphRebuilds: after.index.builds - before.index.builds,
    rowsReadDuringWrites: after.resident.rowsRead - before.resident.rowsRead,
    // A whole reload reads every row again; the writes themselves are applied from memory.
    wholeReloads: Math.floor((after.resident.rowsRead - before.resident.rowsRead) / d.n),
    compactions: after.optimize.runs - before.optimize.runs,
    compactionsFollowed: after.resident.compactionsFollowed - before.resident.compactionsFollowed,
    renamedRows: after.index.graph?.renamedRows ?? null,
  }
}

/** usearch's HNSW in memory under the same writes (add, remove, replace) with a search after each. */
function usearch(d) {
  const { Index } = require('usearch')
  const index = new Index({ metric: 'cos', connectivity: 16, dimensions: d.dim })
  for (let i = 0; i < d.n; i++) index.add(BigInt(i), row(d, i))
  const quiet = []
  for (let q = 0; q < 400; q++) {
    const t0 = performance.now()
    index.search(query(d, q), 10)
    if (q >= 50) quiet.push(performance.now() - t0)
  }
  const during = []
  const random = rng(11)
  let next = d.n
  for (let w = 0; w < WRITES; w++) {
    const kind = w % 3
    if (kind === 0) index.add(BigInt(next), row(d, next++))
    else {
      const key = BigInt(Math.floor(random() * d.n))
      if (index.contains(key)) index.remove(key)
      if (kind === 2) index.add(key, row(d, next++))
    }
    const t0 = performance.now()
    index.search(query(d, w), 10)
    during.push(performance.now() - t0)
  }
  return { quietP50: pct(quiet, 0.5), duringP50: pct(during, 0.5), duringP99: pct(during, 0.99) }
}

/**
 * usearch's HNSW (in memory, taking the same adds / removes) searched right after each of the same writes committed to a
 * lancestore store with the same options: the commit's own work (LanceDB's files, the copy's catch-up, the graph's
 * upkeep, compactions) shares the cores and the caches with usearch's searches as it does with lancestore's.
 */
async function usearchAfterCommits(d, dir) {
  const { Index } = require('usearch')
  const index = new Index({ metric: 'cos', connectivity: 16, dimensions: d.dim })
  for (let i = 0; i < d.n; i++) index.add(BigInt(i), row(d, i))
  const store = await storeWithGraph(d, dir)
  const during = []
  const random = rng(11)
  let next = d.n
  for (let w = 0; w < WRITES; w++) {
    const kind = w % 3
    if (kind === 0) {
      await store.addEmbeddings([{ id: `n${next}`, vector: row(d, next) }])
      index.add(BigInt(next), row(d, next++))
    } else {
      const picked = Math.floor(random() * d.n)
      if (kind === 1) await store.delete([`r${picked}`])
      else await store.upsertEmbeddings([{ id: `r${picked}`, vector: row(d, next) }])
      const key = BigInt(picked)
      if (index.contains(key)) index.remove(key)
      if (kind === 2) index.add(key, row(d, next++))
    }
    const t0 = performance.now()
    index.search(query(d, w), 10)
    during.push(performance.now() - t0)
  }
  await store.close()
  return { duringP50: pct(during, 0.5), duringP99: pct(during, 0.99) }
}

function dirBytes(dir) {
  let total = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    total += entry.isDirectory() ? dirBytes(p) : fs.statSync(p).size
  }
  return total
}

/** Bytes of data files written per row added over `commits` single-row commits (old versions kept, so every file written stays on disk). */
async function amplification(d, root) {
  const commitsDir = path.join(root, 'commits')
  const store = await EmbeddingStore.open(commitsDir, { dimension: d.dim, performance: { residentMemoryMB: 0 } })
  const t0 = performance.now()
  for (let i = 0; i < AMPLIFICATION_COMMITS; i++) await store.addEmbeddings([{ id: `a${i}`, vector: row(d, i) }])
  const ms = performance.now() - t0
  await store.close()
  const onceDir = path.join(root, 'once')
  const once = await EmbeddingStore.open(onceDir, { dimension: d.dim, performance: { residentMemoryMB: 0 } })
  await once.addEmbeddings(Array.from({ length: AMPLIFICATION_COMMITS }, (_, i) => ({ id: `a${i}`, vector: row(d, i) })))
  await once.close()
  const data = (dir) => dirBytes(path.join(dir, 'embeddings.lance', 'data'))
  const written = data(commitsDir)
  const single = data(onceDir)
  return { commits: AMPLIFICATION_COMMITS, ms, bytesWritten: written, bytesOnce: single, writtenPerRowAdded: written / AMPLIFICATION_COMMITS, amplification: written / single }
}

async function main() {
  const d = data()
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-bench-churn-'))
  try {
    const result = { n: d.n, dim: d.dim, source: d.source, writes: WRITES }
    result.lancestore = await lancestore(d, path.join(root, 'churn'))
    result.usearch = usearch(d)
    result.usearchAfterCommits = await usearchAfterCommits(d, path.join(root, 'anchor'))
    if (AMPLIFICATION_COMMITS > 0) result.writeAmplification = await amplification(d, root)
    console.log(JSON.stringify(result))
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
