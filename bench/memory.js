#!/usr/bin/env node
// The in-memory benchmark (run by `npm run bench`): what a test's store costs on `memory://` against a
// temporary directory, in the same run — open, 1,000 single-item adds, 100 searches, close (and, for the
// directory, creating and removing it), repeated 5 times (2 with --quick); medians in milliseconds.
// Usage: node bench/memory.js [--quick]; prints one JSON line last.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { EmbeddingStore } = require('..')
const { rng } = require('./data')

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 2 : 5
const ADDS = 1_000
const SEARCHES = 100
const DIM = 384

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

async function round(where, random) {
  const vector = () => Float32Array.from({ length: DIM }, () => random() - 0.5)
  const t0 = performance.now()
  let dir = null
  let target = `memory://bench-${process.pid}-${Math.floor(random() * 1e9)}`
  if (where === 'directory') {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-memory-bench-'))
    target = dir
  }
  const store = await EmbeddingStore.open(target, { dimension: DIM, performance: { autoOptimizeEvery: 0 } })
  for (let i = 0; i < ADDS; i++) await store.addEmbeddings([{ id: `doc-${i}`, vector: vector(), metadata: { i } }])
  for (let i = 0; i < SEARCHES; i++) {
    const hits = await store.search(vector(), { limit: 10 })
    if (hits.length !== 10) throw new Error(`a search found ${hits.length} hits`)
  }
  await store.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
  return performance.now() - t0
}

async function main() {
  const random = rng(3)
  const times = { memory: [], directory: [] }
  for (let r = 0; r < ROUNDS; r++) {
    for (const where of ['memory', 'directory']) times[where].push(await round(where, random))
  }
  const memoryMs = median(times.memory)
  const directoryMs = median(times.directory)
  console.log(`open + ${ADDS} adds + ${SEARCHES} searches + close: memory:// ${memoryMs.toFixed(0)} ms, temp directory ${directoryMs.toFixed(0)} ms (${(directoryMs / memoryMs).toFixed(2)}×)`)
  console.log(JSON.stringify({ adds: ADDS, searches: SEARCHES, dim: DIM, rounds: ROUNDS, memoryMs, directoryMs }))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
