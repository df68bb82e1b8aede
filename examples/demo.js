#!/usr/bin/env node
// `npm run demo`: stores 2,000 real sentence embeddings of Debian package descriptions
// (all-MiniLM-L6-v2, 384 dims, from examples/data) with their metadata in a fresh local store,
// then runs semantic searches and prints the nearest descriptions with scores and timings.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { EmbeddingStore } = require('..')

const dataDir = path.join(__dirname, 'data', 'minilm-384-sample')

function loadSample() {
  const meta = JSON.parse(fs.readFileSync(path.join(dataDir, 'meta.json'), 'utf8'))
  const f32 = (file) => {
    const b = fs.readFileSync(path.join(dataDir, file))
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
  }
  const lines = (file) => fs.readFileSync(path.join(dataDir, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  return { dim: meta.dim, base: f32('base.f32'), queries: f32('queries.f32'), rows: lines('base.jsonl'), queryRows: lines('queries.jsonl') }
}

const ms = (t0) => `${(performance.now() - t0).toFixed(1)} ms`
const short = (text, n = 90) => (text.length > n ? `${text.slice(0, n - 1)}…` : text)

async function main() {
  const { dim, base, queries, rows, queryRows } = loadSample()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-demo-'))
  try {
    let t0 = performance.now()
    const store = await EmbeddingStore.open(dir, { dimension: dim, fields: { section: 'string' } })
    console.log(`opened a new store in ${dir} (${ms(t0)})`)

    const items = rows.map((row, i) => ({
      id: row.key,
      vector: base.subarray(i * dim, (i + 1) * dim),
      metadata: { section: row.section, text: row.text },
    }))
    t0 = performance.now()
    const { added, version } = await store.addEmbeddings(items)
    const insertMs = performance.now() - t0
    console.log(`added ${added} embeddings in one commit (version ${version}): ${insertMs.toFixed(1)} ms, ${Math.round(added / (insertMs / 1000))} embeddings/s`)

    for (const q of [0, 7, 21]) {
      const query = queries.subarray(q * dim, (q + 1) * dim)
      t0 = performance.now()
      const hits = await store.search(query, { limit: 3 })
      console.log(`\nquery: "${short(queryRows[q].text)}"  (${ms(t0)})`)
      for (const hit of hits) {
        console.log(`  ${hit.score.toFixed(3)}  ${hit.id} [${hit.metadata.section}]  ${short(hit.metadata.text, 70)}`)
      }
    }

    const query = queries.subarray(0, dim)
    const close = await store.search(query, { limit: 100, threshold: 0.6 })
    console.log(`\n${close.length} descriptions have cosine similarity >= 0.6 to the first query`)

    t0 = performance.now()
    const inSection = await store.search(query, { limit: 3, filter: { section: 'python' } })
    console.log(`\nthe same query, only in section 'python' (${ms(t0)}):`)
    for (const hit of inSection) console.log(`  ${hit.score.toFixed(3)}  ${hit.id}  ${short(hit.metadata.text, 70)}`)

    t0 = performance.now()
    await store.search(query, { limit: 3 })
    console.log(`\na repeated search is answered from the query cache: ${ms(t0)}`)

    const times = []
    for (let q = 0; q < queries.length / dim; q++) {
      t0 = performance.now()
      await store.search(queries.subarray(q * dim, (q + 1) * dim), { limit: 10 })
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    console.log(`\nsearch latency over ${times.length} queries: median ${times[times.length >> 1].toFixed(2)} ms, max ${times[times.length - 1].toFixed(2)} ms`)

    // "auto" picks the index for this table (from 2,000 rows the HNSW graph over the resident copy; below
    // that, exact search, and the report says why); naming a kind builds that one, to show the API.
    const auto = await store.createIndex()
    console.log(`\ncreateIndex(): ${describeIndex(auto)}`)
    const report = await store.createIndex({ kind: 'ivf_hnsw_sq' })
    console.log(`createIndex({ kind: 'ivf_hnsw_sq' }): ${report.numPartitions} partition(s), built in ${report.buildMs.toFixed(0)} ms`)
    let agree = 0
    const nQueries = queries.length / dim
    for (let q = 0; q < nQueries; q++) {
      const vector = queries.subarray(q * dim, (q + 1) * dim)
      const exact = new Set((await store.search(vector, { limit: 10, exact: true })).map((h) => h.id))
      agree += (await store.search(vector, { limit: 10 })).filter((h) => exact.has(h.id)).length
    }
    console.log(`indexed search finds ${((100 * agree) / (10 * nQueries)).toFixed(1)}% of the exact top-10 over ${nQueries} queries`)
    console.log('stats().index:', JSON.stringify((await store.stats()).index))

    await store.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** One line about an `IndexReport`: what was built and how, or why nothing was. */
function describeIndex(report) {
  if (report.kind === 'none') return `no index, exact search (${report.reason})`
  const shape = report.kind === 'hnsw' || report.kind === 'ivf_hnsw_sq' ? `, ${report.numEdges} edges per vector` : ''
  return `${report.kind} over ${report.rows} rows${shape}, built in ${report.buildMs.toFixed(0)} ms`
}

main().catch((err) => {
  console.error(`demo failed: [${err.code ?? 'ERROR'}] ${err.message}`)
  process.exit(1)
})
