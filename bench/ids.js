#!/usr/bin/env node
// The by-id benchmark (run by `npm run bench`): what `get` and `delete` of 100 ids cost at 100k rows
// (10k with --quick), on the resident copy and on LanceDB's path (`residentMemoryMB: 0`), before and after
// `optimize()` builds the scalar index on `id`. Random 384-dim vectors: the vectors do not matter here.
// Usage: node bench/ids.js [--quick]; prints one JSON line last.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { EmbeddingStore } = require('..')
const { rng } = require('./data')

const quick = process.argv.includes('--quick')
const ROWS = quick ? 10_000 : 100_000
const DIM = 384
const BATCH = 100
const ROUNDS = quick ? 5 : 15

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null
}

async function fill(store, random) {
  for (let start = 0; start < ROWS; start += 10_000) {
    const items = []
    for (let i = start; i < Math.min(ROWS, start + 10_000); i++) {
      const vector = new Float32Array(DIM)
      for (let d = 0; d < DIM; d++) vector[d] = random() - 0.5
      items.push({ id: `doc-${i}`, vector, metadata: { n: i } })
    }
    await store.addEmbeddings(items)
  }
}

/** Medians of `get` and `delete` of BATCH ids (distinct ids each round; deleted ones are never asked again). */
async function measure(store, random, deleted) {
  const pick = () => {
    const ids = new Set()
    while (ids.size < BATCH) {
      const i = Math.floor(random() * ROWS)
      if (!deleted.has(i)) ids.add(i)
    }
    return [...ids]
  }
  const gets = []
  const deletes = []
  for (let round = 0; round < ROUNDS; round++) {
    const ids = pick().map((i) => `doc-${i}`)
    let t = performance.now()
    const got = await store.get(ids)
    gets.push(performance.now() - t)
    if (got.some((row) => row === null)) throw new Error('get missed a stored id')
    const doomed = pick()
    for (const i of doomed) deleted.add(i)
    t = performance.now()
    const { deleted: n } = await store.delete(doomed.map((i) => `doc-${i}`))
    deletes.push(performance.now() - t)
    if (n !== BATCH) throw new Error(`delete removed ${n} rows, not ${BATCH}`)
  }
  return { getMs: median(gets), deleteMs: median(deletes) }
}

async function main() {
  const results = {}
  for (const [name, residentMemoryMB] of [
    ['resident', undefined],
    ['lancedb', 0],
  ]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-ids-'))
    try {
      const random = rng(7)
      const store = await EmbeddingStore.open(dir, {
        dimension: DIM,
        autoIndex: false,
        performance: { autoOptimizeEvery: 0, residentMemoryMB },
      })
      await fill(store, random)
      const deleted = new Set()
      const before = await measure(store, random, deleted)
      await store.optimize()
      const after = await measure(store, random, deleted)
      results[name] = { before, after, residentState: (await store.stats()).resident.state }
      await store.close()
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(9)} get ${BATCH}: ${r.before.getMs.toFixed(2)} ms → ${r.after.getMs.toFixed(2)} ms after optimize;` +
        ` delete ${BATCH}: ${r.before.deleteMs.toFixed(2)} ms → ${r.after.deleteMs.toFixed(2)} ms (copy: ${r.residentState})`,
    )
  }
  console.log(JSON.stringify({ rows: ROWS, batch: BATCH, rounds: ROUNDS, ...results }))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
