#!/usr/bin/env node
// The per-call benchmark (run by `npm run bench`): what one search costs beyond the search itself, and how
// that grows with the table versions kept. Two 2,000 × 64 stores (`autoOptimizeEvery: 0`, so versions pile up,
// one per commit), one at 2 versions and one after 3,000 single-row upserts that rewrite a row as it was (300
// with --quick; the rows searched stay the same), measured in turns (5 rounds; medians):
// p50 of a cached hit (the same Float32Array query, limit 10, metadata on every row), of the same with a
// `number[]` query, and of a resident-copy search with the cache off (a second store on the directory).
// Usage: node bench/call-path.js [--quick]; prints one JSON line last.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { EmbeddingStore } = require('..')
const { rng } = require('./data')

const quick = process.argv.includes('--quick')
const ROWS = 2_000
const DIM = 64
const COMMITS = quick ? 300 : 3_000
const ROUNDS = quick ? 1 : 5

const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]

async function p50Micros(call, n) {
  for (let i = 0; i < 200; i++) await call()
  const times = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await call()
    times.push(performance.now() - t)
  }
  return median(times) * 1000
}

async function measure(cached, uncached, query) {
  const asArray = Array.from(query)
  return {
    cachedHitUs: await p50Micros(() => cached.search(query, { limit: 10 }), 5_000),
    cachedHitArrayUs: await p50Micros(() => cached.search(asArray, { limit: 10 }), 2_000),
    residentSearchUs: await p50Micros(() => uncached.search(query, { limit: 10 }), 1_000),
  }
}

/** A store in `dir` holding ROWS rows after `commits` single-row upserts (each rewrites a row as it was), and a second store on it with the cache off. */
async function storeWithVersions(dir, commits, random) {
  const vector = () => Float32Array.from({ length: DIM }, () => random() - 0.5)
  const performanceOptions = { autoOptimizeEvery: 0 }
  const cached = await EmbeddingStore.open(dir, { dimension: DIM, performance: performanceOptions })
  const items = Array.from({ length: ROWS }, (_, i) => ({ id: `doc-${i}`, vector: vector(), metadata: { title: `document ${i}`, n: i } }))
  await cached.addEmbeddings(items)
  // Each commit replaces one stored row with itself: the versions pile up, the rows searched stay the same.
  for (let i = 0; i < commits; i++) await cached.upsertEmbeddings([items[i % ROWS]])
  const uncached = await EmbeddingStore.open(dir, { performance: { ...performanceOptions, enableQueryCache: false } })
  return { cached, uncached, query: vector(), versions: await cached.version() }
}


async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-call-path-'))
  const random = rng(11)
  try {
    const stores = {
      few: await storeWithVersions(path.join(root, 'few'), 0, random),
      many: await storeWithVersions(path.join(root, 'many'), COMMITS, random),
    }
    for (const s of Object.values(stores)) await measure(s.cached, s.uncached, s.query) // warm-up: JIT, caches, the copies
    // The two tables are measured in turns, ROUNDS times, and each figure is the median of its rounds: this shared
    // machine's noise moves a p50 of tens of µs by ±50 % from one minute to the next, which one pass each would
    // read as a difference between the tables.
    const rounds = { few: [], many: [] }
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of ['few', 'many']) rounds[name].push(await measure(stores[name].cached, stores[name].uncached, stores[name].query))
    }
    const summary = (name) => ({
      versions: stores[name].versions,
      ...Object.fromEntries(['cachedHitUs', 'cachedHitArrayUs', 'residentSearchUs'].map((k) => [k, median(rounds[name].map((m) => m[k]))])),
    })
    const few = summary('few')
    const many = summary('many')
    const resident = (await stores.many.uncached.stats()).resident.state
    for (const s of Object.values(stores)) {
      await s.uncached.close()
      await s.cached.close()
    }
    const r = (a, b) => a / b
    console.log(
      `cached hit ${few.cachedHitUs.toFixed(1)} µs at ${few.versions} versions, ${many.cachedHitUs.toFixed(1)} µs at ${many.versions}` +
        ` (${r(many.cachedHitUs, few.cachedHitUs).toFixed(2)}×); number[] query ${few.cachedHitArrayUs.toFixed(1)} µs;` +
        ` resident search ${few.residentSearchUs.toFixed(1)} → ${many.residentSearchUs.toFixed(1)} µs (${r(many.residentSearchUs, few.residentSearchUs).toFixed(2)}×, copy ${resident});` +
        ` medians of ${ROUNDS} rounds taken in turns`,
    )
    console.log(JSON.stringify({ rows: ROWS, dim: DIM, commits: COMMITS, rounds: ROUNDS, few, many, resident }))
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
