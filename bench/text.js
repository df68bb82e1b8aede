#!/usr/bin/env node
// The full-text and hybrid benchmark (run by `npm run bench`), on the MiniLM set with each package
// description as a `'text'` field (20,000 rows; 5,000 with --quick; the repo's 2,000-row sample when
// ../shared/data is absent). Queries are the held-out queries' synopses (the words before the first ". ").
//
// 1. Agreement: `searchText` top-10 against a reference BM25 written here with the same settings as the
//    field's index (LanceDB's English defaults: split on anything not a letter or digit, drop tokens of 40+
//    bytes, lower-case, Snowball English stem, drop stop words, fold to ASCII; k1 = 1.2, b = 0.75,
//    idf = ln(1 + (N − n + 0.5) / (n + 0.5))): mean overlap@10 over 50 queries.
// 2. Latency (p50, cache off, each query once): lancestore's vector search, `searchText` and hybrid
//    `search` from memory (the resident copy's word index, built after the first text search: its build
//    time is reported), the same two through LanceDB's full-text index (a second store on the table with
//    `residentMemoryMB: 0`), and @lancedb/lancedb 0.31's own hybrid query (nearestTo + fullTextSearch +
//    RRFReranker, its FTS index built with defaults) on the same rows in the same run.
// 3. Upkeep: 1,000 single-row adds (200 with --quick), each followed by a `searchText` for the new row's
//    unique word: how many were found at once, that search's p50/p99, and the index's state.
// Usage: node bench/text.js [--quick]; prints one JSON line last.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { EmbeddingStore } = require('..')

const quick = process.argv.includes('--quick')
const shared = path.resolve(__dirname, '..', '..', 'shared', 'data', 'minilm-384')
const committed = path.resolve(__dirname, '..', 'examples', 'data', 'minilm-384-sample')

function f32(file) {
  const b = fs.readFileSync(file)
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}
const jsonl = (file) => fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line))

function load() {
  const source = fs.existsSync(path.join(shared, 'base.jsonl')) ? shared : committed
  const dim = JSON.parse(fs.readFileSync(path.join(source, 'meta.json'), 'utf8')).dim
  const rows = jsonl(path.join(source, 'base.jsonl'))
  const n = Math.min(rows.length, source === shared ? (quick ? 5_000 : 20_000) : rows.length)
  const queriesFile = path.join(source, 'queries.jsonl')
  const queries = fs.existsSync(queriesFile) ? jsonl(queriesFile) : rows.slice(0, 200)
  return {
    source: source === shared ? 'MiniLM 384 (../shared/data)' : 'MiniLM 384 sample (examples/data)',
    dim,
    n,
    rows: rows.slice(0, n),
    base: f32(path.join(source, 'base.f32')).subarray(0, n * dim),
    queryVectors: f32(path.join(source, fs.existsSync(queriesFile) ? 'queries.f32' : 'base.f32')),
    queryTexts: queries.map((q) => q.text.split('. ')[0]),
  }
}

// ---- the reference BM25 ----------------------------------------------------------------------------------
// LanceDB's English stop words (lance-tokenizer 14, `stop_word_filter/latin.rs`), applied after stemming as there.
const STOP_WORDS = new Set(
  [
    "a about above after again against all am an and any are as at be because been before being below",
    "between both but by can did do does doing down during each few for from further had has have having",
    "he he'd he'll her here hers herself he's him himself his how i i'd if i'll i'm in into is it it'd",
    "it'll it's its itself i've just me more most my myself now of off on once only or other our ours",
    "ourselves out over own re same she she'd she'll she's should should've so some such than that",
    "that'll the their theirs them themselves then there these they they'd they'll they're they've this",
    "those through to too under until up very was we we'd we'll we're were we've what when where which",
    "while who whom why will with you you'd you'll your you're yours yourself yourselves you've",
  ]
    .join(' ')
    .split(' '),
)

function referenceTokenizer() {
  const stemmer = require('snowball-stemmers').newStemmer('english')
  return (text) =>
    text
      .split(/[^\p{L}\p{N}]+/u)
      .filter((t) => t && Buffer.byteLength(t) < 40)
      .map((t) => stemmer.stem(t.toLowerCase()))
      .filter((t) => !STOP_WORDS.has(t))
      .map((t) => t.normalize('NFKD').replace(/[\u0300-\u036f]/g, ''))
}

function referenceIndex(texts, tokenize) {
  const docs = texts.map((text) => {
    const counts = new Map()
    const tokens = tokenize(text)
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1)
    return { counts, length: tokens.length }
  })
  const df = new Map()
  for (const d of docs) for (const t of d.counts.keys()) df.set(t, (df.get(t) ?? 0) + 1)
  const avg = docs.reduce((s, d) => s + d.length, 0) / docs.length
  return (query, k) => {
    const terms = [...new Set(tokenize(query))]
    const scored = []
    docs.forEach((d, i) => {
      let score = 0
      for (const t of terms) {
        const f = d.counts.get(t)
        if (!f) continue
        const n = df.get(t)
        const idf = Math.log(1 + (docs.length - n + 0.5) / (n + 0.5))
        score += (idf * (1.2 + 1) * f) / (f + 1.2 * (1 - 0.75 + (0.75 * d.length) / avg))
      }
      if (score > 0) scored.push([score, i])
    })
    scored.sort((a, b) => b[0] - a[0] || a[1] - b[1])
    return scored.slice(0, k).map(([, i]) => `row-${i}`)
  }
}

// ---- timing ----------------------------------------------------------------------------------------------
function percentile(times, p) {
  const sorted = [...times].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]
}

async function timed(count, call) {
  for (let i = 0; i < Math.min(20, count); i++) await call(i) // warm-up
  const times = []
  for (let i = 0; i < count; i++) {
    const t = performance.now()
    await call(i)
    times.push(performance.now() - t)
  }
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) }
}

async function waitUntilReady(store, probe) {
  for (let i = 0; i < 600; i++) {
    await store.search(probe, { limit: 1 })
    const s = await store.stats()
    if (s.resident.state === 'ready' && s.index.kind === 'hnsw' && !s.index.building && s.index.unindexedRows === 0) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error('the resident copy or the graph was not ready after 2 minutes')
}

async function lancedbHybrid(dir, data, queryCount) {
  const lancedb = require('@lancedb/lancedb')
  const arrow = require('apache-arrow')
  const db = await lancedb.connect(dir)
  const schema = new arrow.Schema([
    new arrow.Field('id', new arrow.Utf8(), false),
    new arrow.Field('vector', new arrow.FixedSizeList(data.dim, new arrow.Field('item', new arrow.Float32(), true)), false),
    new arrow.Field('text', new arrow.Utf8(), true),
  ])
  const table = await db.createEmptyTable('embeddings', schema)
  const rows = data.rows.map((r, i) => ({ id: `row-${i}`, vector: data.base.subarray(i * data.dim, (i + 1) * data.dim), text: r.text }))
  for (let i = 0; i < rows.length; i += 5_000) await table.add(rows.slice(i, i + 5_000))
  const built = performance.now()
  await table.createIndex('text', { config: lancedb.Index.fts() })
  const indexBuildMs = performance.now() - built
  const reranker = await lancedb.rerankers.RRFReranker.create()
  const query = (i) => data.queryVectors.subarray(i * data.dim, (i + 1) * data.dim)
  const hybrid = await timed(queryCount, (i) =>
    table.query().nearestTo(query(i)).distanceType('cosine').fullTextSearch(data.queryTexts[i]).rerank(reranker).select(['id']).limit(10).toArray(),
  )
  const text = await timed(queryCount, (i) => table.search(data.queryTexts[i], 'fts').select(['id', '_score']).limit(10).toArray())
  table.close()
  db.close()
  return { hybridMs: hybrid, textMs: text, indexBuildMs }
}

async function main() {
  const data = load()
  const queryCount = Math.min(200, data.queryTexts.length)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-text-'))
  try {
    const store = await EmbeddingStore.open(path.join(dir, 'lancestore'), {
      dimension: data.dim,
      fields: { text: 'text' },
      performance: { enableQueryCache: false },
    })
    const items = data.rows.map((r, i) => ({ id: `row-${i}`, vector: data.base.subarray(i * data.dim, (i + 1) * data.dim), metadata: { text: r.text } }))
    for (let i = 0; i < items.length; i += 5_000) await store.addEmbeddings(items.slice(i, i + 5_000))
    // The full-text index is built in the background after the writes (autoIndex): time until it is there.
    let t = performance.now()
    while (!(await store.stats()).text[0].indexed) await new Promise((r) => setTimeout(r, 20))
    const indexBuildMs = performance.now() - t
    await waitUntilReady(store, data.queryVectors.subarray(0, data.dim))
    // The first text search starts the resident copy's word index: time until searches use it.
    t = performance.now()
    await store.searchText(data.queryTexts[0], { limit: 1 })
    while (!(await store.stats()).text[0].inMemory) await new Promise((r) => setTimeout(r, 10))
    const wordIndexBuildMs = performance.now() - t

    // 1. agreement with the reference BM25
    const reference = referenceIndex(data.rows.map((r) => r.text), referenceTokenizer())
    let overlap = 0
    const agreementQueries = 50
    for (let i = 0; i < agreementQueries; i++) {
      const ours = (await store.searchText(data.queryTexts[i], { limit: 10 })).map((h) => h.id)
      const theirs = new Set(reference(data.queryTexts[i], 10))
      overlap += ours.filter((id) => theirs.has(id)).length / Math.max(1, Math.min(10, theirs.size))
    }
    const overlapAt10 = overlap / agreementQueries

    // 2. latency
    const query = (i) => data.queryVectors.subarray(i * data.dim, (i + 1) * data.dim)
    const vector = await timed(queryCount, (i) => store.search(query(i), { limit: 10 }))
    const text = await timed(queryCount, (i) => store.searchText(data.queryTexts[i], { limit: 10 }))
    const hybrid = await timed(queryCount, (i) => store.search(query(i), { text: data.queryTexts[i], limit: 10 }))
    const throughLance = await EmbeddingStore.open(path.join(dir, 'lancestore'), {
      performance: { enableQueryCache: false, residentMemoryMB: 0 },
    })
    const lanceText = await timed(queryCount, (i) => throughLance.searchText(data.queryTexts[i], { limit: 10 }))
    const lanceHybrid = await timed(queryCount, (i) => throughLance.search(query(i), { text: data.queryTexts[i], limit: 10 }))
    await throughLance.close()
    const lancedb = await lancedbHybrid(path.join(dir, 'lancedb'), data, queryCount)

    // 3. upkeep under single-row adds
    const adds = quick ? 200 : 1_000
    let foundAtOnce = 0
    const searchTimes = []
    const addTimes = []
    for (let i = 0; i < adds; i++) {
      const word = `zqx${i.toString(36)}marker`
      t = performance.now()
      await store.addEmbeddings([{ id: `new-${i}`, vector: query(i % data.queryTexts.length), metadata: { text: `${data.queryTexts[i % data.queryTexts.length]} ${word}` } }])
      addTimes.push(performance.now() - t)
      t = performance.now()
      const hits = await store.searchText(word, { limit: 1 })
      searchTimes.push(performance.now() - t)
      if (hits[0]?.id === `new-${i}`) foundAtOnce++
    }
    const after = await store.stats()
    await store.close()
    console.log(
      JSON.stringify({
        source: data.source,
        n: data.n,
        dim: data.dim,
        queries: queryCount,
        indexBuildMs,
        wordIndexBuildMs,
        agreement: { queries: agreementQueries, overlapAt10 },
        lancestore: { vectorMs: vector, textMs: text, hybridMs: hybrid },
        lancestoreThroughLanceDB: { textMs: lanceText, hybridMs: lanceHybrid },
        lancedb,
        upkeep: {
          adds,
          foundAtOnce,
          searchMs: { p50: percentile(searchTimes, 0.5), p99: percentile(searchTimes, 0.99) },
          addMs: { p50: percentile(addTimes, 0.5), p99: percentile(addTimes, 0.99) },
          optimizeRuns: after.optimize.runs,
          unindexedRowsAtEnd: after.text[0].unindexedRows,
        },
      }),
    )
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
