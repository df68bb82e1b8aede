#!/usr/bin/env node
// The object-storage benchmark (run by `npm run bench`): the MiniLM 20k set (2,000 rows with --quick) in a
// store on the local S3-compatible server (moto, see scripts/s3-server.js) and, in the same run, on local
// disk: insert rate (batches of 1,000), open, first search, then search p50 through the resident copy and
// through LanceDB (`residentMemoryMB: 0`), and the time one read-consistency check costs (a reader with
// `readConsistencyIntervalMs: 0`, so every search looks for a newer version). autoIndex is off, so the
// searches are exact on both sides and only the storage differs. Prints one JSON line last.
// Usage: node bench/object-storage.js [--quick]
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { EmbeddingStore } = require('..')
const { loadScenario } = require('./data')
const { startS3Server } = require('../scripts/s3-server')

const quick = process.argv.includes('--quick')
const QUERIES = quick ? 30 : 200
const BATCH = 1_000

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor(s.length / 2)] : null
}

async function searchP50(store, data, options) {
  const times = []
  for (let q = 0; q < QUERIES; q++) {
    const query = data.queries.subarray((q % data.nQueries) * data.dim, ((q % data.nQueries) + 1) * data.dim)
    const t0 = performance.now()
    await store.search(query, { limit: 10, ...options })
    times.push(performance.now() - t0)
  }
  return median(times.slice(Math.min(5, times.length - 1)))
}

async function residentReady(store) {
  for (let i = 0; i < 6_000; i++) {
    const s = await store.stats()
    if (s.resident.state === 'ready' && s.resident.version === s.version) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error('the resident copy did not load')
}

async function measure(where, open, data) {
  const options = { autoIndex: false, performance: { enableQueryCache: false } }
  const store = await EmbeddingStore.open(where, { dimension: data.dim, ...options, ...open })
  const t0 = performance.now()
  for (let start = 0; start < data.n; start += BATCH) {
    const end = Math.min(start + BATCH, data.n)
    const items = []
    for (let i = start; i < end; i++) items.push({ id: `r${i}`, vector: data.base.subarray(i * data.dim, (i + 1) * data.dim) })
    await store.addEmbeddings(items)
  }
  const insertMs = performance.now() - t0
  await store.close()

  const t1 = performance.now()
  const reader = await EmbeddingStore.open(where, { ...options, ...open })
  const openMs = performance.now() - t1
  const t2 = performance.now()
  await reader.search(data.queries.subarray(0, data.dim), { limit: 10 })
  const firstSearchMs = performance.now() - t2
  await residentReady(reader)
  const resident = await searchP50(reader, data)
  await reader.close()

  const lance = await EmbeddingStore.open(where, { ...options, ...open, performance: { ...options.performance, residentMemoryMB: 0 } })
  await lance.search(data.queries.subarray(0, data.dim), { limit: 10 })
  const lancePath = await searchP50(lance, data)
  await lance.close()

  // Every call checks for a newer version: the difference to the resident p50 above is that check.
  const checking = await EmbeddingStore.open(where, { ...options, ...open, performance: { ...options.performance, readConsistencyIntervalMs: 0 } })
  await residentReady(checking)
  const checked = await searchP50(checking, data)
  await checking.close()
  return {
    insertPerSec: Math.round(data.n / (insertMs / 1000)),
    openMs,
    firstSearchMs,
    residentP50: resident,
    lanceP50: lancePath,
    consistentEveryCallP50: checked,
  }
}

async function main() {
  const data = loadScenario({ kind: 'real', folder: 'minilm-384', n: quick ? 2_000 : 20_000, queries: QUERIES })
  if (data.missing) {
    console.log(JSON.stringify({ skipped: data.missing }))
    return
  }
  const server = await startS3Server()
  if (server.skip) {
    console.log(JSON.stringify({ skipped: `the local S3 server could not be installed: ${server.skip}` }))
    return
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-bench-s3-'))
  try {
    await server.createBucket('bench')
    const local = await measure(dir, {}, data)
    // The s3 store's graph and vector files go to a cache directory of this run (not the user's cache).
    const cacheDir = path.join(dir, 'cache')
    const s3 = await measure('s3://bench/minilm', { storage: { ...server.storage, cacheDir } }, data)
    console.log(JSON.stringify({ n: data.n, dim: data.dim, queries: QUERIES, local, s3 }))
  } finally {
    await server.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
