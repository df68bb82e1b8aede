#!/usr/bin/env node
// The per-call benchmark (run by `npm run bench`): what one search costs beyond the search itself, and how
// that grows with the table versions kept. A 2,000 × 64 store (`autoOptimizeEvery: 0`, so versions pile up,
// one per commit) is measured at 2 versions and again after 3,000 single-row upserts that rewrite a row
// as it was (300 with --quick; the rows searched stay the same):
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

async function p50Micros(call, n) {
  for (let i = 0; i < 200; i++) await call()
  const times = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await call()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor((times.length - 1) / 2)] * 1000
}

async function measure(cached, uncached, query) {
  const asArray = Array.from(query)
  return {
    cachedHitUs: await p50Micros(() => cached.search(query, { limit: 10 }), 5_000),
    cachedHitArrayUs: await p50Micros(() => cached.search(asArray, { limit: 10 }), 2_000),
    residentSearchUs: await p50Micros(() => uncached.search(query, { limit: 10 }), 1_000),
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-call-path-'))
  const random = rng(11)
  const vector = () => Float32Array.from({ length: DIM }, () => random() - 0.5)
  try {
    const performanceOptions = { autoOptimizeEvery: 0 }
    const cached = await EmbeddingStore.open(dir, { dimension: DIM, performance: performanceOptions })
    const items = Array.from({ length: ROWS }, (_, i) => ({ id: `doc-${i}`, vector: vector(), metadata: { title: `document ${i}`, n: i } }))
    await cached.addEmbeddings(items)
    const uncached = await EmbeddingStore.open(dir, { performance: { ...performanceOptions, enableQueryCache: false } })
    const query = vector()
    await measure(cached, uncached, query) // warm-up: JIT, caches, the resident copy's first searches
    const few = { versions: await cached.version(), ...(await measure(cached, uncached, query)) }
    // Each commit replaces one stored row with itself: the versions pile up, the rows searched stay the same.
    for (let i = 0; i < COMMITS; i++) await cached.upsertEmbeddings([items[i % ROWS]])
    const many = { versions: await cached.version(), ...(await measure(cached, uncached, query)) }
    const resident = (await uncached.stats()).resident.state
    await uncached.close()
    await cached.close()
    const r = (a, b) => a / b
    console.log(
      `cached hit ${few.cachedHitUs.toFixed(1)} µs at ${few.versions} versions, ${many.cachedHitUs.toFixed(1)} µs at ${many.versions}` +
        ` (${r(many.cachedHitUs, few.cachedHitUs).toFixed(2)}×); number[] query ${few.cachedHitArrayUs.toFixed(1)} µs;` +
        ` resident search ${few.residentSearchUs.toFixed(1)} → ${many.residentSearchUs.toFixed(1)} µs (${r(many.residentSearchUs, few.residentSearchUs).toFixed(2)}×, copy ${resident})`,
    )
    console.log(JSON.stringify({ rows: ROWS, dim: DIM, commits: COMMITS, few, many, resident }))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
