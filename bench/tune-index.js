#!/usr/bin/env node
// Index tuning: for one real data set, builds each index configuration given and measures build
// time, recall@10 against the exact ground truth and search latency for a grid of search knobs,
// beside exact search in the same process. This is how lancestore's index defaults were chosen.
// Usage: node bench/tune-index.js <minilm-384|mpnet-768> [--n=20000] [--configs=<json array>] [--knobs=<json array>]
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { loadScenario } = require('./data')

const args = Object.fromEntries(process.argv.slice(3).map((a) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2)))
const folder = process.argv[2] ?? 'minilm-384'
const K = 10

const defaultConfigs = [{ kind: 'ivf_flat' }, { kind: 'ivf_hnsw_sq' }, { kind: 'ivf_pq' }]
const configs = args.configs ? JSON.parse(args.configs) : defaultConfigs
const knobGrid = args.knobs ? JSON.parse(args.knobs) : [{}]

const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]

/** Exact top-k row indices of `data.queries[q]` by brute force (used when n < the full base). */
function bruteForce(data, q, k) {
  const { dim, n, base, queries } = data
  const scores = new Float64Array(n)
  for (let r = 0; r < n; r++) {
    let dot = 0
    for (let i = 0; i < dim; i++) dot += base[r * dim + i] * queries[q * dim + i]
    scores[r] = dot
  }
  return Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, k)
}

async function measure(store, data, truth, options) {
  let found = 0
  const times = []
  for (let q = 0; q < data.nQueries; q++) {
    const query = data.queries.subarray(q * data.dim, (q + 1) * data.dim)
    const t0 = performance.now()
    const hits = await store.search(query, { limit: K, ...options })
    times.push(performance.now() - t0)
    const want = new Set(truth[q])
    found += hits.filter((h) => want.has(Number(h.id))).length
  }
  return { recall: found / (K * data.nQueries), p50: median(times) }
}

async function main() {
  const { EmbeddingStore } = require('..')
  const data = loadScenario({ kind: 'real', folder, n: args.n ? Number(args.n) : undefined, queries: args.queries ? Number(args.queries) : 500 })
  if (data.missing) {
    console.log(`skipped: ${data.missing}`)
    return
  }
  const truth = Array.from({ length: data.nQueries }, (_, q) =>
    data.gt ? Array.from(data.gt.subarray(q * 100, q * 100 + K)) : bruteForce(data, q, K),
  )
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-tune-'))
  const store = await EmbeddingStore.open(dir, { dimension: data.dim, autoIndex: false, performance: { enableQueryCache: false } })
  for (let from = 0; from < data.n; from += 10_000) {
    const rows = []
    for (let i = from; i < Math.min(data.n, from + 10_000); i++) rows.push({ id: String(i), vector: data.base.subarray(i * data.dim, (i + 1) * data.dim) })
    await store.addEmbeddings(rows)
  }
  await store.optimize({ retainVersionsSeconds: 0 })
  const exact = await measure(store, data, truth, { exact: true })
  console.log(JSON.stringify({ set: folder, n: data.n, kind: 'exact', recall: exact.recall, p50: +exact.p50.toFixed(3) }))
  for (const config of configs) {
    let report
    try {
      report = await store.createIndex(config)
    } catch (e) {
      console.log(JSON.stringify({ set: folder, n: data.n, config, error: `${e.code}: ${e.message}` }))
      continue
    }
    for (const knobs of knobGrid) {
      const r = await measure(store, data, truth, knobs)
      console.log(
        JSON.stringify({
          set: folder,
          n: data.n,
          kind: report.kind,
          partitions: report.numPartitions,
          subVectors: report.numSubVectors,
          buildMs: Math.round(report.buildMs),
          knobs,
          recall: +r.recall.toFixed(4),
          p50: +r.p50.toFixed(3),
          exactP50: +exact.p50.toFixed(3),
        }),
      )
    }
  }
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
