#!/usr/bin/env node
// The million-row benchmark (run by `npm run bench`, full runs only): a seeded synthetic 1M × 384 table (1.5 GB of
// vectors, more than the default residentMemoryMB of 1024; each vector a random point of a 16-dimensional
// subspace plus a little noise, normalised — structure like real embeddings have, where uniform random vectors
// have none for a graph to find) stored, then opened with the defaults by a fresh
// process as a user would: is it served from memory (its vectors read in place from the vector file), how long
// until the graph is built, and then graph search p50 and recall@10 (against the store's own exact search), and
// in a second fresh process, the time from open to the first search answered from memory and its memory.
// Usage: node bench/million.js [--rows N]; prints one JSON line last.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { performance } = require('node:perf_hooks')
const { rng } = require('./data')

const DIM = 384
const QUERIES = 100
const at = process.argv.indexOf('--rows')
const ROWS = at >= 0 ? Number(process.argv[at + 1]) : 1_000_000

/** The subspace the vectors lie near: LATENT seeded random directions of DIM floats. */
const LATENT = 16
const basis = (() => {
  const next = rng(4242)
  return Array.from({ length: LATENT }, () => Float32Array.from({ length: DIM }, () => next() * 2 - 1))
})()

/** The next vector of the seeded stream `next`: a random point of the subspace plus 5 % noise, normalised. */
function structured(next) {
  const gauss = () => Math.sqrt(-2 * Math.log(next() || 1e-12)) * Math.cos(2 * Math.PI * next())
  const v = new Float32Array(DIM)
  for (const direction of basis) {
    const z = gauss()
    for (let d = 0; d < DIM; d++) v[d] += z * direction[d]
  }
  const scale = Math.hypot(...v) / Math.sqrt(DIM)
  for (let d = 0; d < DIM; d++) v[d] += 0.05 * scale * gauss()
  const norm = Math.hypot(...v)
  return v.map((x) => x / norm)
}

/** The queries: drawn like the rows, from a seed of their own. */
function queryVectors() {
  const next = rng(99_991)
  return Array.from({ length: QUERIES }, () => structured(next))
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]

async function until(check, what, minutes) {
  const deadline = performance.now() + minutes * 60_000
  for (;;) {
    const value = await check()
    if (value) return value
    if (performance.now() > deadline) throw new Error(`waited ${minutes} minutes for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A fresh process's run: open with the defaults, wait for what `phase` needs, measure. */
async function child(dir, phase) {
  const { EmbeddingStore } = require('..')
  const queries = queryVectors()
  const query = (q) => queries[q]
  const t0 = performance.now()
  const store = await EmbeddingStore.open(dir, { performance: { enableQueryCache: false } })
  const report = {}
  if (phase === 'first') {
    // The first process over this table: it writes the vector file, loads, builds the graph.
    const ready = await until(async () => (await store.stats()).resident.state === 'ready' && performance.now(), 'the resident copy', 20)
    report.readyMs = ready - t0
    const built = await until(async () => {
      const { index } = await store.stats()
      return index.kind === 'hnsw' && index.unindexedRows === 0 && !index.building && performance.now()
    }, 'the graph', 60)
    report.graphBuiltMs = built - t0
  } else {
    let q = 0
    await until(async () => {
      const before = (await store.stats()).resident.searches
      await store.search(query(q++ % QUERIES), { limit: 10 })
      const { resident, index } = await store.stats()
      return resident.searches > before && index.kind === 'hnsw' && index.unindexedRows === 0
    }, 'a search answered from memory by the graph', 20)
    report.hotMs = performance.now() - t0
  }
  const stats = await store.stats()
  report.state = stats.resident.state
  report.privateBytes = stats.resident.bytes
  report.mappedBytes = stats.resident.mappedBytes
  report.graphBytes = stats.index.graph?.bytes ?? null
  report.graphMappedBytes = stats.index.graph?.mappedBytes ?? null
  const times = []
  let found = 0
  for (let q = 0; q < QUERIES; q++) {
    const s0 = performance.now()
    const hits = await store.search(query(q), { limit: 10 })
    times.push(performance.now() - s0)
    const exact = await store.search(query(q), { limit: 10, exact: true })
    found += hits.filter((h) => exact.some((e) => e.id === h.id)).length
  }
  report.graphP50Ms = pct(times, 0.5)
  report.recallAt10 = found / (QUERIES * 10)
  const rollup = fs.readFileSync('/proc/self/smaps_rollup', 'utf8')
  report.rssMiB = Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) / 1024
  await store.close()
  process.send(report)
}

function run(dir, phase) {
  return new Promise((resolve, reject) => {
    const kid = fork(__filename, ['--child', dir, phase], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    kid.once('message', resolve)
    kid.once('exit', (code) => code !== 0 && reject(new Error(`the ${phase} process exited with ${code}`)))
  })
}

async function main() {
  if (process.platform !== 'linux') {
    console.log(JSON.stringify({ skipped: 'reads /proc: Linux only' }))
    return
  }
  const { EmbeddingStore } = require('..')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-million-'))
  try {
    const t0 = performance.now()
    const store = await EmbeddingStore.open(dir, { dimension: DIM, autoIndex: false, performance: { residentMemoryMB: 0 } })
    const BATCH = 50_000
    for (let from = 0; from < ROWS; from += BATCH) {
      const n = Math.min(BATCH, ROWS - from)
      // Seeded per batch, so the table is the same in every run without holding 1.5 GB at once.
      const next = rng(from + 7)
      await store.addEmbeddings(Array.from({ length: n }, (_, k) => ({ id: `r${from + k}`, vector: structured(next) })))
    }
    await store.close()
    const storedS = (performance.now() - t0) / 1000
    console.log(`${ROWS} × ${DIM} stored in ${storedS.toFixed(0)} s`)
    const first = await run(dir, 'first')
    console.log(`first process: ${first.state}, ready after ${(first.readyMs / 1000).toFixed(1)} s, graph after ${(first.graphBuiltMs / 1000).toFixed(0)} s; graph p50 ${first.graphP50Ms.toFixed(2)} ms @ recall@10 ${first.recallAt10.toFixed(3)}; private ${(first.privateBytes / 2 ** 20).toFixed(0)} MiB, mapped ${(first.mappedBytes / 2 ** 20).toFixed(0)} MiB`)
    const second = await run(dir, 'second')
    console.log(`second process: open → first search from memory ${second.hotMs.toFixed(0)} ms; graph p50 ${second.graphP50Ms.toFixed(2)} ms @ ${second.recallAt10.toFixed(3)}; RSS ${second.rssMiB.toFixed(0)} MiB (private ${(second.privateBytes / 2 ** 20).toFixed(0)} MiB, vectors mapped ${(second.mappedBytes / 2 ** 20).toFixed(0)} MiB, graph mapped ${((second.graphMappedBytes ?? 0) / 2 ** 20).toFixed(0)} MiB)`)
    console.log(JSON.stringify({ rows: ROWS, dim: DIM, storedS, first, second }))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4]).catch((e) => {
    console.error(e)
    process.exit(1)
  })
} else {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
