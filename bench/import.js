#!/usr/bin/env node
// The import benchmark (run by `npm run bench`): the MiniLM 20k set (2,000 rows with --quick) written as
// JSONL, NPY (+ ids JSONL) and Parquet, then loaded into fresh stores by `importFile` and, for comparison,
// by one `addEmbeddings` call with the same rows (Float32Array vectors). Every store has autoIndex off, so
// only the load is timed. The full run also imports 1,000,000 × 384 synthetic vectors from one .npy file in
// a child process (resident copy off, so its peak RSS is the import's own) and reports that peak.
// Usage: node bench/import.js [--quick] [--big-child <file>]; prints one JSON line last.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { EmbeddingStore } = require('..')
const { loadScenario } = require('./data')
const files = require('./files')

const quick = process.argv.includes('--quick')
const BIG_ROWS = 1_000_000
const BIG_DIM = 384

function peakRssMb() {
  const status = fs.readFileSync('/proc/self/status', 'utf8')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

async function timed(dir, dim, load) {
  const store = await EmbeddingStore.open(dir, { dimension: dim, autoIndex: false })
  const t0 = performance.now()
  const added = await load(store)
  const ms = performance.now() - t0
  await store.close()
  return { added, ms, perSecond: Math.round(added / (ms / 1000)) }
}

/** Child: imports the big .npy with the resident copy off; prints { ms, peakRssMb }. */
async function bigChild(file) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-bench-big-'))
  try {
    const store = await EmbeddingStore.open(dir, { dimension: BIG_DIM, autoIndex: false, performance: { residentMemoryMB: 0 } })
    const before = peakRssMb()
    const t0 = performance.now()
    const { added } = await store.importFile(file)
    const ms = performance.now() - t0
    await store.close()
    console.log(JSON.stringify({ added, ms, perSecond: Math.round(added / (ms / 1000)), peakRssMb: Math.round(peakRssMb()), rssBeforeMb: Math.round(before) }))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Writes 1M × 384 seeded values into an .npy file in slices (never the whole array in memory). */
function writeBigNpy(file) {
  const out = fs.openSync(file, 'w')
  fs.writeSync(out, files.npyHeader(BIG_ROWS, BIG_DIM))
  const rows = 10_000
  const slice = new Float32Array(rows * BIG_DIM)
  let state = 12345
  for (let from = 0; from < BIG_ROWS; from += rows) {
    for (let i = 0; i < slice.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0
      slice[i] = state / 4294967296 - 0.5
    }
    fs.writeSync(out, Buffer.from(slice.buffer))
  }
  fs.closeSync(out)
}

async function main() {
  const child = process.argv.indexOf('--big-child')
  if (child >= 0) return bigChild(process.argv[child + 1])

  const data = loadScenario({ kind: 'real', folder: 'minilm-384', n: quick ? 2_000 : undefined, queries: 1 })
  if (data.missing) {
    console.log(JSON.stringify({ skipped: data.missing }))
    return
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-bench-import-'))
  try {
    const rows = Array.from({ length: data.n }, (_, i) => ({ id: `row-${i}`, metadata: { section: data.sections[i] } }))
    const jsonl = path.join(work, 'set.jsonl')
    const npy = path.join(work, 'set.npy')
    const ids = path.join(work, 'set-ids.jsonl')
    const parquet = path.join(work, 'set.parquet')
    files.writeJsonl(jsonl, rows, data.base, data.dim)
    files.writeNpy(npy, ids, rows, data.base, data.dim)
    files.writeParquet(parquet, rows, data.base, data.dim)
    const result = { n: data.n, dim: data.dim, fileMb: {} }
    for (const [name, file] of [['jsonl', jsonl], ['npy', npy], ['parquet', parquet]]) result.fileMb[name] = +(fs.statSync(file).size / 1e6).toFixed(1)
    const store = (name) => path.join(work, `store-${name}`)
    const items = rows.map((r, i) => ({ id: r.id, vector: data.base.subarray(i * data.dim, (i + 1) * data.dim), metadata: r.metadata }))
    result.addEmbeddings = await timed(store('add'), data.dim, async (s) => (await s.addEmbeddings(items)).added)
    result.jsonl = await timed(store('jsonl'), data.dim, async (s) => (await s.importFile(jsonl)).added)
    result.npy = await timed(store('npy'), data.dim, async (s) => (await s.importFile(npy, { idsPath: ids })).added)
    result.parquet = await timed(store('parquet'), data.dim, async (s) => (await s.importFile(parquet)).added)
    if (!quick) {
      const big = path.join(work, 'big.npy')
      writeBigNpy(big)
      const r = spawnSync(process.execPath, [__filename, '--big-child', big], { encoding: 'utf8', maxBuffer: 1 << 20 })
      if (r.status !== 0) throw new Error(`the 1M import failed: ${r.stderr}`)
      result.big = { n: BIG_ROWS, dim: BIG_DIM, ...JSON.parse(r.stdout.trim().split('\n').pop()) }
      fs.rmSync(big, { force: true })
    }
    console.log(JSON.stringify(result))
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
