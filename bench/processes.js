#!/usr/bin/env node
// The multi-process benchmark (run by `npm run bench`): several processes on one host serving one table, as
// the cluster module, PM2 or several containers on one node do. A seeded synthetic table (100k × 768 by default;
// 10k × 768 with --quick) is stored and its graph built and saved; then P processes (4; 2 with --quick) start
// at once, each opens the store and searches until its searches are answered from memory by the graph, then
// serves 200 more searches. With all of them up, the parent reads each one's /proc/<pid>/smaps_rollup: the sum
// of PSS (shared pages split between the processes that map them) and the memory private to each process, at
// once and again 12 s later ("settled": after the allocators gave back what start-up freed), and the time
// from open to the first search answered from memory. The same runs with one process give the base
// the sum is compared with. Anchor, same run: usearch's HNSW over the same vectors, saved to a file and opened
// by each process with `view()` (mapped read-only, shared through the page cache) and with `load()` (a private
// copy each).
// Usage: node bench/processes.js [--quick] [--rows N] [--processes P]; prints one JSON line last. Linux only
// (it reads /proc).
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { performance } = require('node:perf_hooks')
const { loadScenario } = require('./data')

const DIM = 768
const SEARCHES = 200
const SETTLE_MS = 12_000

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
const flag = (name, fallback) => {
  const at = process.argv.indexOf(name)
  return at >= 0 ? Number(process.argv[at + 1]) : fallback
}

/** The memory figures of process `pid`, in MiB, from the kernel's own accounting. */
function memoryOf(pid) {
  const fields = {}
  for (const line of fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line)
    if (m) fields[m[1]] = Number(m[2]) / 1024
  }
  return {
    rss: fields.Rss,
    pss: fields.Pss,
    private: (fields.Private_Clean ?? 0) + (fields.Private_Dirty ?? 0),
  }
}

const vectors = (rows) => loadScenario({ kind: 'synthetic', n: rows, dim: DIM, queries: SEARCHES })

// ---- child side: one serving process ----

async function serveLancestore(dir, queries) {
  const { EmbeddingStore } = require('..')
  const t0 = performance.now()
  const store = await EmbeddingStore.open(dir, {})
  let firstAnswerMs = null
  let q = 0
  for (;;) {
    const before = (await store.stats()).resident.searches
    await store.search(queries(q++), { limit: 10 })
    firstAnswerMs ??= performance.now() - t0
    const s = await store.stats()
    if (s.resident.searches > before && s.index.kind === 'hnsw' && s.index.unindexedRows === 0) break
    if (performance.now() - t0 > 600_000) throw new Error('no search answered from memory after 10 minutes')
    await new Promise((r) => setTimeout(r, 1))
  }
  const hotMs = performance.now() - t0
  return { firstAnswerMs, hotMs, search: (v) => store.search(v, { limit: 10 }), close: () => store.close() }
}

async function serveUsearch(file, how, queries) {
  const { Index } = require('usearch')
  const t0 = performance.now()
  const index = new Index({ dimensions: DIM, metric: 'cos', connectivity: 16, quantization: 'f16' })
  index[how](file)
  index.search(queries(0), 10)
  const ms = performance.now() - t0
  return { firstAnswerMs: ms, hotMs: ms, search: async (v) => index.search(v, 10), close: async () => {} }
}

async function child(system, where) {
  const d = vectors(0) // the queries only: the table's vectors are the processes' to load
  const queries = (q) => d.queries.subarray((q % d.nQueries) * DIM, ((q % d.nQueries) + 1) * DIM)
  const served =
    system === 'lancestore' ? await serveLancestore(where, queries) : await serveUsearch(where, system.split('-')[1], queries)
  for (let q = 0; q < SEARCHES; q++) await served.search(queries(q))
  process.send({ firstAnswerMs: served.firstAnswerMs, hotMs: served.hotMs })
  // Stay up until the parent has read every process's memory.
  await new Promise((resolve) => process.once('message', resolve))
  await served.close()
  process.exit(0)
}

// ---- parent side ----

/** Starts `count` serving processes at once; their memory and times once all of them serve. */
async function serve(system, where, count) {
  const kids = Array.from({ length: count }, () =>
    fork(__filename, ['--child', system, where], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  )
  const reports = await Promise.all(
    kids.map(
      (kid) =>
        new Promise((resolve, reject) => {
          kid.once('message', resolve)
          kid.once('exit', (code) => reject(new Error(`a ${system} process exited with ${code} before serving`)))
        }),
    ),
  )
  const memory = kids.map((kid) => memoryOf(kid.pid))
  // Again once allocators have given back what start-up freed (jemalloc's decay is 10 s).
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
  const settled = kids.map((kid) => memoryOf(kid.pid))
  await Promise.all(
    kids.map((kid) => {
      const exited = new Promise((resolve) => kid.once('exit', resolve))
      kid.send('stop')
      return exited
    }),
  )
  return {
    pssSumMiB: memory.reduce((a, m) => a + m.pss, 0),
    privateMiB: median(memory.map((m) => m.private)),
    rssMiB: median(memory.map((m) => m.rss)),
    settledPssSumMiB: settled.reduce((a, m) => a + m.pss, 0),
    settledPrivateMiB: median(settled.map((m) => m.private)),
    firstAnswerMs: median(reports.map((r) => r.firstAnswerMs)),
    hotMs: Math.max(...reports.map((r) => r.hotMs)),
  }
}

async function prepare(rows, dir) {
  const { EmbeddingStore } = require('..')
  const d = vectors(rows)
  const store = await EmbeddingStore.open(dir, { dimension: DIM })
  for (let from = 0; from < rows; from += 5_000) {
    const to = Math.min(rows, from + 5_000)
    await store.addEmbeddings(
      Array.from({ length: to - from }, (_, k) => ({ id: `r${from + k}`, vector: d.base.subarray((from + k) * DIM, (from + k + 1) * DIM) })),
    )
  }
  await store.createIndex()
  for (let i = 0; ; i++) {
    const s = await store.stats()
    if (s.resident.state === 'ready' && s.index.graph && s.index.unindexedRows === 0 && !s.index.building) break
    if (i > 120_000) throw new Error('the graph was not built in 10 minutes')
    await new Promise((r) => setTimeout(r, 5))
  }
  await store.close() // saves the graph file beside the table
  const { Index } = require('usearch')
  const index = new Index({ dimensions: DIM, metric: 'cos', connectivity: 16, quantization: 'f16' })
  const keys = new BigUint64Array(rows)
  for (let i = 0; i < rows; i++) keys[i] = BigInt(i)
  index.add(keys, d.base)
  const file = path.join(dir, 'usearch.index')
  index.save(file)
  return file
}

async function main() {
  if (process.platform !== 'linux') {
    console.log(JSON.stringify({ skipped: 'reads /proc: Linux only' }))
    return
  }
  const quick = process.argv.includes('--quick')
  const rows = flag('--rows', quick ? 10_000 : 100_000)
  const count = flag('--processes', quick ? 2 : 4)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-processes-'))
  try {
    const t0 = performance.now()
    const usearchFile = await prepare(rows, dir)
    console.log(`${rows} × ${DIM} stored, graph built and saved in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
    const result = { rows, dim: DIM, processes: count }
    for (const [system, where] of [
      ['lancestore', dir],
      ['usearch-view', usearchFile],
      ['usearch-load', usearchFile],
    ]) {
      const one = await serve(system, where, 1)
      const many = await serve(system, where, count)
      result[system] = { one, many }
      console.log(
        `${system}: ${count} processes PSS ${many.pssSumMiB.toFixed(0)} MiB, ${many.settledPssSumMiB.toFixed(0)} settled ` +
          `(one alone ${one.pssSumMiB.toFixed(0)}, ${one.settledPssSumMiB.toFixed(0)}), private ${many.privateMiB.toFixed(0)} MiB ` +
          `each, ${many.settledPrivateMiB.toFixed(0)} settled; first answer ${many.firstAnswerMs.toFixed(0)} ms, ` +
          `answering from memory after ${many.hotMs.toFixed(0)} ms (alone ${one.hotMs.toFixed(0)} ms)`,
      )
    }
    const ls = result.lancestore.many
    result.pssRatioToOne = ls.settledPssSumMiB / result.lancestore.one.settledPssSumMiB
    result.pssRatioToUsearchView = ls.settledPssSumMiB / result['usearch-view'].many.settledPssSumMiB
    console.log(
      `settled, lancestore's ${count} processes hold ${result.pssRatioToOne.toFixed(2)}× one process's PSS ` +
        `and ${result.pssRatioToUsearchView.toFixed(2)}× usearch view()'s`,
    )
    console.log(JSON.stringify(result))
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
