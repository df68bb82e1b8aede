#!/usr/bin/env node
// `npm run stress`: lancestore under faults, load and hostile input, with real processes and real LanceDB
// directories. Each scenario prints its figures; any broken guarantee exits non-zero with the seed to replay.
//
//   node stress/run.js            short mode (CI, a few minutes)
//   node stress/run.js --full     longer rounds and more calls
//   node stress/run.js --seed 42  replay (the seed is printed by every run)
//   node stress/run.js --only fuzz,crash
'use strict'

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { EmbeddingStore } = require('..')
const { rng } = require('../bench/data')

const args = process.argv.slice(2)
const full = args.includes('--full')
const seedArg = args.indexOf('--seed')
const seed = seedArg >= 0 ? Number(args[seedArg + 1]) : Date.now() % 1_000_000
const onlyArg = args.indexOf('--only')
const only = onlyArg >= 0 ? args[onlyArg + 1].split(',') : null
const CODES = new Set(['INVALID_ARGUMENT', 'DIMENSION_MISMATCH', 'INVALID_VECTOR', 'DUPLICATE_ID', 'INVALID_FILTER', 'INDEX_FAILED', 'CONFLICT', 'STORE_CLOSED', 'IO', 'INTERNAL'])

/** A small seeded PRNG (shared with the benchmarks), so a failing run can be replayed exactly. */
const prng = rng

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-stress-'))
}

function vector(rand, dim) {
  return Float32Array.from({ length: dim }, () => rand() * 2 - 1)
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20
const openFds = () => (fs.existsSync('/proc/self/fd') ? fs.readdirSync('/proc/self/fd').length : NaN)

function fail(message) {
  console.error(`\nSTRESS FAILURE (replay with: node stress/run.js --seed ${seed}${full ? ' --full' : ''}): ${message}`)
  process.exit(1)
}

/** Runs this file as a child in `role`, collecting its stdout lines. */
function child(role, extra, onLine) {
  const proc = spawn(process.execPath, [__filename, '--child', role, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
  let buffer = ''
  proc.stdout.on('data', (chunk) => {
    buffer += chunk
    let nl
    while ((nl = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, nl))
      buffer = buffer.slice(nl + 1)
    }
  })
  return proc
}

const exited = (proc) => new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })))

// ---------- kill -9 during writes and maintenance, exact accounting of acknowledged batches ----------

const BATCH = 20
const DIM = 8

async function crashWriter(dir, roundSeed) {
  const rand = prng(roundSeed)
  const store = await EmbeddingStore.open(dir, { dimension: DIM, performance: { autoOptimizeEvery: 7 } })
  const added = []
  const ids = (batch) => Array.from({ length: BATCH }, (_, j) => `${batch}-${j}`)
  for (let op = 0; ; op++) {
    const r = rand()
    const batch = `${roundSeed}-${op}`
    if (r < 0.55) {
      const items = ids(batch).map((id) => ({ id, vector: vector(rand, DIM), metadata: { batch } }))
      await store.addEmbeddings(items)
      added.push(batch)
      console.log(`ADD ${batch}`)
    } else if (r < 0.7) {
      await store.upsertEmbeddings(ids(batch).map((id) => ({ id, vector: vector(rand, DIM) })))
      added.push(batch)
      console.log(`ADD ${batch}`)
    } else if (r < 0.85 && added.length > 0) {
      const victim = added.splice(Math.floor(rand() * added.length), 1)[0]
      console.log(`DELSTART ${victim}`)
      await store.delete(ids(victim))
      console.log(`DEL ${victim}`)
    } else if (r < 0.95) {
      await store.optimize({ retainVersionsSeconds: 0 })
    } else {
      await store.createIndex({ kind: 'ivf_flat' }).catch(() => {})
    }
  }
}

async function crashScenario() {
  const rounds = full ? 20 : 4
  const rand = prng(seed)
  let acked = 0
  let kills = 0
  for (let round = 0; round < rounds; round++) {
    const dir = tempDir()
    const roundSeed = Math.floor(rand() * 1e9)
    const ackedBatches = new Set()
    const deleting = new Set()
    const deleted = new Set()
    // Several kill/reopen cycles on one directory: each writer continues where the last died.
    for (let life = 0; life < 3; life++) {
      const proc = child('crash-writer', [dir, String(roundSeed * 10 + life)], (line) => {
        const [what, batch] = line.split(' ')
        if (what === 'ADD') ackedBatches.add(batch)
        if (what === 'DELSTART') deleting.add(batch)
        if (what === 'DEL') deleted.add(batch)
      })
      await new Promise((r) => setTimeout(r, 300 + rand() * 1_200))
      proc.kill('SIGKILL')
      await exited(proc)
      kills++
    }
    const store = await EmbeddingStore.open(dir, { autoIndex: false })
    const total = await store.count()
    const ids = new Set()
    // Every acknowledged batch is there in full; every batch present is complete (atomic).
    for (const batch of ackedBatches) {
      const got = await store.get(Array.from({ length: BATCH }, (_, j) => `${batch}-${j}`))
      const present = got.filter((g) => g !== null).length
      if (deleted.has(batch) && present !== 0) fail(`batch ${batch}, deleted and acknowledged, still has ${present} rows`)
      if (!deleted.has(batch) && !deleting.has(batch) && present !== BATCH) fail(`acknowledged batch ${batch} has ${present} of ${BATCH} rows after kill -9`)
      if (present !== 0 && present !== BATCH) fail(`batch ${batch} is torn: ${present} of ${BATCH} rows`)
      got.forEach((g) => g && ids.add(g.id))
    }
    if ((total - ids.size) % BATCH !== 0) fail(`${total - ids.size} rows outside acknowledged batches: a torn batch`)
    acked += ackedBatches.size
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log(`crash: ${rounds} directories, ${kills} kill -9, ${acked} acknowledged batches all present and whole`)
}

// ---------- several writer processes ----------

async function multiWriter(dir, name, n) {
  const rand = prng(name.length * 7919 + n)
  const store = await EmbeddingStore.open(dir, { dimension: DIM })
  for (let i = 0; i < n; i++) {
    await store.addEmbeddings([{ id: `${name}-${i}`, vector: vector(rand, DIM) }])
    // Every writer races to add the same id: exactly one may store it, the others get DUPLICATE_ID.
    try {
      await store.addEmbeddings([{ id: `shared-${i}`, vector: vector(rand, DIM) }])
    } catch (err) {
      if (err.code !== 'DUPLICATE_ID') throw err
    }
  }
  await store.close()
}

async function writersScenario() {
  const dir = tempDir()
  const writers = full ? 6 : 3
  const each = full ? 100 : 30
  await (await EmbeddingStore.open(dir, { dimension: DIM })).close()
  const procs = Array.from({ length: writers }, (_, w) => child('multi-writer', [dir, `w${w}`, String(each)], () => {}))
  const outcomes = await Promise.all(procs.map(exited))
  if (outcomes.some((o) => o.code !== 0)) fail(`a writer process failed: ${JSON.stringify(outcomes)}`)
  const store = await EmbeddingStore.open(dir)
  const count = await store.count()
  if (count !== writers * each + each) fail(`${writers} writers × ${each} own adds + ${each} raced ids left ${count} rows, expected ${writers * each + each}`)
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(`writers: ${writers} processes × ${each} single-row adds, and ${each} rounds of all ${writers} racing to add one shared id: all ${count} rows present, 0 duplicates`)
}

// ---------- 1,000 concurrent searches ----------

async function loadScenario() {
  const dir = tempDir()
  const dim = 64
  const rand = prng(seed + 1)
  const store = await EmbeddingStore.open(dir, { dimension: dim, autoIndex: false })
  await store.addEmbeddings(Array.from({ length: 20_000 }, (_, i) => ({ id: `${i}`, vector: vector(rand, dim) })))
  let peak = rssMiB()
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 5)
  const started = performance.now()
  const calls = 1_000
  const results = await Promise.all(Array.from({ length: calls }, () => store.search(vector(rand, dim), { limit: 10 })))
  clearInterval(sampler)
  if (results.some((hits) => hits.length !== 10)) fail('a concurrent search returned fewer than 10 hits')
  console.log(`load: ${calls} concurrent searches on 20k×64 in ${(performance.now() - started).toFixed(0)} ms, peak RSS ${peak.toFixed(0)} MiB`)
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
}

// ---------- seeded fuzz of every method ----------

/** Files the fuzz passes to `importFile`: good, bad, truncated, missing, a directory (set by the fuzz runner). */
let fuzzPaths = []

function fuzzFiles(dir) {
  const at = (name) => path.join(`${dir}-import`, name)
  fs.mkdirSync(at('files'), { recursive: true })
  fs.writeFileSync(at('files/ok.jsonl'), '{"id":"imp-1","vector":[1,0,0,1],"section":"s"}\n{"id":"imp-2","vector":[0,1,0,1]}\n')
  fs.writeFileSync(at('files/bad.jsonl'), '{"id":"imp-3","vector":[1,0,0,1]}\n{"id":"imp-4","vector":[1,"x",0,1]}\n')
  fs.writeFileSync(at('files/cut.jsonl'), '{"id":"imp-5","vector":[1,0,0,1]}\n{"id":"imp-6","vec')
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
  const npy = Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([header.length + 1, 0]), Buffer.from(`${header}\n`, 'latin1'), Buffer.alloc(20)])
  fs.writeFileSync(at('files/cut.npy'), npy)
  fs.writeFileSync(at('files/junk.parquet'), 'PAR1 not really')
  return [at('files/ok.jsonl'), at('files/bad.jsonl'), at('files/cut.jsonl'), at('files/cut.npy'), at('files/junk.parquet'), at('files/missing.jsonl'), at('files')]
}

/**
 * Valid Parquet and Arrow IPC files of 300 rows, then `count` mangled copies of each (seeded): cut short, bytes
 * flipped, a run of bytes zeroed or repeated. Their decoders may fail anywhere, panics included.
 */
function mangledFiles(dir, rand, count) {
  const files = require('../bench/files')
  const arrow = require('apache-arrow')
  const at = (name) => path.join(`${dir}-import`, 'mangled', name)
  fs.mkdirSync(at(''), { recursive: true })
  const n = 300
  const rows = Array.from({ length: n }, (_, i) => ({ id: `mangled-${i}`, metadata: { section: `s${i % 7}` } }))
  const flat = Float32Array.from({ length: n * 4 }, () => rand() - 0.5)
  files.writeParquet(at('good.parquet'), rows, flat, 4)
  // The Arrow IPC file holds the same table, read back from the Parquet file.
  const parquet = require('parquet-wasm')
  const ipc = parquet.readParquet(fs.readFileSync(at('good.parquet'))).intoIPCStream()
  fs.writeFileSync(at('good.arrows'), arrow.tableToIPC(arrow.tableFromIPC(ipc), 'file'))
  const out = []
  for (const good of ['good.parquet', 'good.arrows']) {
    const bytes = fs.readFileSync(at(good))
    const ext = path.extname(good)
    for (let k = 0; k < count; k++) {
      const copy = Buffer.from(bytes)
      let mangled
      switch (k % 4) {
        case 0: mangled = copy.subarray(0, Math.floor(rand() * copy.length)); break
        case 1: for (let f = 0; f < 1 + Math.floor(rand() * 8); f++) copy[Math.floor(rand() * copy.length)] ^= 1 << Math.floor(rand() * 8); mangled = copy; break
        case 2: { const from = Math.floor(rand() * copy.length); copy.fill(0, from, from + 1 + Math.floor(rand() * 64)); mangled = copy; break }
        default: { const from = Math.floor(rand() * copy.length); const run = copy.subarray(from, from + 16); mangled = Buffer.concat([copy.subarray(0, from), run, run, copy.subarray(from)]) }
      }
      const file = at(`m${k}${ext}`)
      fs.writeFileSync(file, mangled)
      out.push(file)
    }
  }
  return out
}

/**
 * Whether a filter holds a value JSON would drop or change (undefined, a function, a symbol, a BigInt, NaN or
 * ±Infinity, an object JSON writes as `{}`, symbol keys): such a filter must be refused, never run without it.
 * `null` when walking it throws (a hostile Proxy or getter): the call then has to reject anyway.
 */
function dropsSomething(value, seen = new Set()) {
  try {
    switch (typeof value) {
      case 'undefined': case 'function': case 'symbol': case 'bigint': return true
      case 'number': return !Number.isFinite(value)
      case 'object': {
        if (value === null) return false
        if (seen.has(value)) return null // a cycle: JSON refuses it, so the call rejects
        seen.add(value)
        if (!Array.isArray(value) && typeof value.toJSON !== 'function') {
          if (Object.prototype.toString.call(value) !== '[object Object]') return true
          if (Object.getOwnPropertySymbols(value).length > 0) return true
        }
        const values = typeof value.toJSON === 'function' ? [value.toJSON()] : Array.isArray(value) ? [...value] : Object.values(value)
        let unknown = false
        for (const v of values) {
          const inner = dropsSomething(v, seen)
          if (inner === true) return true
          if (inner === null) unknown = true
        }
        return unknown ? null : false
      }
      default: return false
    }
  } catch {
    return null
  }
}

/** The filter a fuzzed `count` / `search` / `searchText` / `delete` call passes, if it passes one. */
function filterOf(method, argv) {
  if (!['search', 'searchText', 'count', 'delete'].includes(method)) return undefined
  const holder = method === 'search' || method === 'searchText' ? argv[1] : argv[0]
  if (holder === null || typeof holder !== 'object' || Array.isArray(holder)) return undefined // an id list, not { filter }
  try {
    return holder.filter
  } catch {
    return undefined
  }
}

function fuzzValue(rand, depth = 0) {
  const pick = Math.floor(rand() * 25)
  const big = () => Array.from({ length: Math.floor(rand() * 3) }, () => fuzzValue(rand, depth + 1))
  switch (pick) {
    case 0: return undefined
    case 1: return null
    case 2: return rand() < 0.5
    case 3: return Math.floor(rand() * 20) - 5
    case 4: return [NaN, Infinity, -Infinity, -0, 1e308, 5e-324, 2 ** 53 + 1][Math.floor(rand() * 7)]
    case 5: return ['', 'a', "it's", 'ü🚀', '\u0000', "' OR 1=1 --", 'x'.repeat(2_000), '$or'][Math.floor(rand() * 8)]
    case 6: return BigInt(Math.floor(rand() * 100))
    case 7: return Symbol('s')
    case 8: return () => 1
    case 9: return depth < 4 ? big() : 1
    case 10: return depth < 4 ? Object.fromEntries(big().map((v, i) => [`k${i}`, v])) : {}
    case 11: return new Float32Array(Math.floor(rand() * 6))
    case 12: return Float32Array.from({ length: 4 }, () => rand())
    case 13: return { get vector() { throw new Error('getter boom') }, id: 'g' }
    case 14: return new Proxy({}, { get() { throw new Error('trap boom') }, ownKeys() { throw new Error('keys boom') } })
    case 15: { const o = {}; o.self = o; return o }
    case 16: return { section: 's' }
    case 17: return { $or: Array.from({ length: Math.floor(rand() * 50) }, (_, i) => ({ section: `s${i}` })) }
    case 18: return { year: { [['$gt', '$in', '$regex', '$exists'][Math.floor(rand() * 4)]]: fuzzValue(rand, depth + 1) } }
    case 19: return [{ id: `f${Math.floor(rand() * 50)}`, vector: Float32Array.from({ length: 4 }, () => rand() - 0.5), metadata: fuzzValue(rand, depth + 1) }]
    case 20: return { limit: fuzzValue(rand, depth + 1), threshold: fuzzValue(rand, depth + 1), exact: rand() < 0.5 }
    case 21: return fuzzPaths[Math.floor(rand() * fuzzPaths.length)] ?? 'missing.jsonl'
    case 22: return { format: fuzzValue(rand, depth + 1), commitEvery: fuzzValue(rand, depth + 1), onProgress: rand() < 0.5 ? () => { throw new Error('progress boom') } : fuzzValue(rand, depth + 1) }
    case 23: return { text: rand() < 0.5 ? 'free software' : fuzzValue(rand, depth + 1), textField: rand() < 0.5 ? 'body' : fuzzValue(rand, depth + 1), rrfK: fuzzValue(rand, depth + 1), limit: fuzzValue(rand, depth + 1), filter: rand() < 0.5 ? { section: 's' } : fuzzValue(rand, depth + 1) }
    default: { let o = { section: 'deep' }; for (let i = 0; i < 200 * (depth + 1); i++) o = { $not: o }; return o }
  }
}

async function fuzzRunner(dir, fuzzSeed, calls) {
  const rand = prng(fuzzSeed)
  const store = await EmbeddingStore.open(dir, { dimension: 4, fields: { section: 'string', year: 'int', body: 'text' }, autoIndex: false })
  await store.addEmbeddings([{ id: 'seed', vector: [1, 0, 0, 0], metadata: { section: 's', year: 1, body: 'free software for the seed' } }])
  fuzzPaths = fuzzFiles(dir)
  // Every mangled Parquet / Arrow file is imported once (and the fuzz picks them again at random): each either
  // imports whole (a flip that only changed values) or rejects with a code and leaves the table as it was.
  const mangled = mangledFiles(dir, rand, full ? 40 : 12)
  for (const file of mangled) {
    const before = await store.count()
    const outcome = await store.importFile(file).then((r) => r, (err) => err)
    if (outcome instanceof Error) {
      if (!CODES.has(outcome.code)) {
        console.log(`UNCODED import of ${path.basename(file)} ${String(outcome)}`)
        process.exit(3)
      }
      if ((await store.count()) !== before) {
        console.log(`CHANGED-ON-REJECT import of ${path.basename(file)} ${outcome.code}`)
        process.exit(3)
      }
    } else if ((await store.count()) !== before + outcome.added) {
      console.log(`IMPORT-COUNT ${path.basename(file)} added ${outcome.added} but the count moved ${(await store.count()) - before}`)
      process.exit(3)
    } else {
      // The copies share their ids: take them out again so the next file reaches its decoder.
      await store.delete(Array.from({ length: 300 }, (_, i) => `mangled-${i}`))
    }
  }
  fuzzPaths.push(...mangled)
  const methods = ['addEmbeddings', 'upsertEmbeddings', 'search', 'searchText', 'count', 'get', 'delete', 'stats', 'version', 'optimize', 'createIndex', 'importFile', 'updateMetadata', 'versions', 'restore', 'openScan']
  const writes = new Set(['addEmbeddings', 'upsertEmbeddings', 'delete', 'optimize', 'createIndex', 'importFile', 'updateMetadata', 'restore'])
  let rejected = 0
  for (let i = 0; i < calls; i++) {
    const method = methods[Math.floor(rand() * methods.length)]
    const argv = Array.from({ length: Math.floor(rand() * 3) }, () => fuzzValue(rand))
    const before = writes.has(method) ? await store.count() : 0
    let promise
    try {
      promise = store[method](...argv)
    } catch (err) {
      console.log(`SYNC-THROW ${i} ${method} ${String(err)}`)
      process.exit(3)
    }
    if (!(promise instanceof Promise)) {
      console.log(`NOT-A-PROMISE ${i} ${method}`)
      process.exit(3)
    }
    const outcome = await Promise.race([
      promise.then(() => 'ok', (err) => err),
      new Promise((r) => setTimeout(() => r('HANG'), 30_000)),
    ])
    if (outcome === 'HANG') {
      console.log(`HANG ${i} ${method}`)
      process.exit(3)
    }
    const filter = filterOf(method, argv)
    if (outcome === 'ok' && filter !== undefined && filter !== null && dropsSomething(filter) === true) {
      console.log(`FILTER-DROPPED ${i} ${method}: a filter holding a value JSON drops was accepted: ${require('node:util').inspect(filter, { depth: 6 }).replace(/\s+/g, ' ').slice(0, 400)}`)
      process.exit(3)
    }
    if (outcome !== 'ok') {
      rejected++
      if (!CODES.has(outcome && outcome.code)) {
        console.log(`UNCODED ${i} ${method} ${String(outcome)}`)
        process.exit(3)
      }
      if (writes.has(method) && method !== 'optimize' && method !== 'createIndex' && (await store.count()) !== before) {
        console.log(`CHANGED-ON-REJECT ${i} ${method} ${outcome.code}`)
        process.exit(3)
      }
    }
  }
  await store.close()
  console.log(`DONE ${calls} ${rejected}`)
}

async function fuzzScenario() {
  const processes = full ? 8 : 2
  const calls = full ? 2_500 : 10_000 / processes
  let total = 0
  let rejected = 0
  for (let p = 0; p < processes; p++) {
    const dir = tempDir()
    const lines = []
    const proc = child('fuzz', [dir, String(seed + p), String(calls)], (line) => lines.push(line))
    const { code, signal } = await exited(proc)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(`${dir}-import`, { recursive: true, force: true })
    const done = lines.find((l) => l.startsWith('DONE '))
    if (code !== 0 || !done) fail(`fuzz process ${p} (seed ${seed + p}) ended with ${signal || code}: ${lines.slice(-3).join(' | ')}`)
    const [, n, r] = done.split(' ')
    total += Number(n)
    rejected += Number(r)
  }
  console.log(`fuzz: ${total} generated calls in ${processes} processes (plus mangled Parquet/Arrow imports), ${rejected} coded rejections, no crash, hang, sync throw, change on rejection or filter that dropped a value`)
}

// ---------- long run: memory and file descriptors over many small commits ----------

/** What the store deliberately holds in memory for its table: the resident copy and the HNSW graph, MiB. */
async function heldMiB(store) {
  const { resident, index } = await store.stats()
  return (resident.bytes + (index.graph?.bytes ?? 0)) / 1048576
}

async function longRunScenario() {
  const dir = tempDir()
  const rand = prng(seed + 2)
  const commits = full ? 10_000 : 500
  const store = await EmbeddingStore.open(dir, { dimension: 64 })
  await store.addEmbeddings(Array.from({ length: 1_000 }, (_, i) => ({ id: `s${i}`, vector: vector(rand, 64) })))
  let warm = null
  for (let i = 0; i < commits; i++) {
    await store.addEmbeddings(Array.from({ length: 5 }, (_, j) => ({ id: `c${i}-${j}`, vector: vector(rand, 64) })))
    for (let q = 0; q < 10; q++) await store.search(vector(rand, 64))
    if (i === Math.floor(commits / 10)) warm = { rss: rssMiB(), fds: openFds(), held: await heldMiB(store) }
  }
  const end = { rss: rssMiB(), fds: openFds(), held: await heldMiB(store) }
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(
    `long run: ${commits} commits of 5 rows + ${commits * 10} searches; RSS ${warm.rss.toFixed(0)} → ${end.rss.toFixed(0)} MiB after warm-up ` +
      `(${(end.rss - warm.rss).toFixed(0)} MiB growth; the resident copy and graph held ${warm.held.toFixed(0)} → ${end.held.toFixed(0)} MiB of it), ` +
      `open fds ${warm.fds} → ${end.fds}`,
  )
}

// ---------- churn: single-row adds, deletes and upserts through compactions, with the graph ----------

/**
 * A table with the graph (defaults: autoIndex, automatic compaction every 100 commits) takes single-row adds,
 * deletes and upserts; after each, an exact and a default (graph) search check that the write is visible and no
 * deleted or replaced row comes back. Compactions move rows to new fragments in between: the copy and the graph
 * must follow them (no rebuild, no whole reload) and still answer correctly.
 */
async function churnScenario() {
  const dir = tempDir()
  const dim = 32
  const rand = prng(seed + 3)
  const rows = 3_000
  const writes = full ? 3_000 : 600
  const store = await EmbeddingStore.open(dir, { dimension: dim, performance: { enableQueryCache: false } })
  const live = new Map()
  const batch = Array.from({ length: rows }, (_, i) => ({ id: `r${i}`, vector: vector(rand, dim) }))
  for (const item of batch) live.set(item.id, item.vector)
  await store.addEmbeddings(batch)
  for (let i = 0; i < 2_000; i++) {
    const { index, resident } = await store.stats()
    if (resident.state === 'ready' && index.graph && index.unindexedRows === 0 && !index.building) break
    await new Promise((r) => setTimeout(r, 10))
  }
  const before = await store.stats()
  const ids = () => [...live.keys()]
  let next = rows
  for (let w = 0; w < writes; w++) {
    const kind = w % 3
    let expectId = null
    let goneId = null
    let probe
    if (kind === 0) {
      const item = { id: `n${next++}`, vector: vector(rand, dim) }
      await store.addEmbeddings([item])
      live.set(item.id, item.vector)
      expectId = item.id
      probe = item.vector
    } else if (kind === 1) {
      const all = ids()
      goneId = all[Math.floor(rand() * all.length)]
      probe = live.get(goneId)
      await store.delete([goneId])
      live.delete(goneId)
    } else {
      const all = ids()
      const id = all[Math.floor(rand() * all.length)]
      const old = live.get(id)
      const fresh = vector(rand, dim)
      await store.upsertEmbeddings([{ id, vector: fresh }])
      live.set(id, fresh)
      expectId = id
      probe = fresh
      // The replaced vector must not be returned for its old position any more.
      const nearOld = await store.search(old, { limit: 1, exact: true })
      if (nearOld[0]?.id === id && Math.abs(nearOld[0].score - 1) < 1e-6) fail(`churn write ${w}: the replaced vector of ${id} came back`)
    }
    for (const exact of [true, false]) {
      const hits = await store.search(probe, { limit: 10, exact })
      if (hits.some((h) => !live.has(h.id))) fail(`churn write ${w} (${exact ? 'exact' : 'graph'}): a deleted row came back: ${hits.map((h) => h.id)}`)
      if (expectId && hits[0]?.id !== expectId) fail(`churn write ${w} (${exact ? 'exact' : 'graph'}): ${expectId} was not found first after its write`)
      if (goneId && hits.some((h) => h.id === goneId)) fail(`churn write ${w}: deleted ${goneId} came back`)
    }
  }
  const count = await store.count()
  if (count !== live.size) fail(`churn: count ${count}, expected ${live.size}`)
  const after = await store.stats()
  await store.close()
  fs.rmSync(dir, { recursive: true, force: true })
  const rebuilds = after.index.builds - before.index.builds
  const reread = after.resident.rowsRead - before.resident.rowsRead
  const followed = after.resident.compactionsFollowed - before.resident.compactionsFollowed
  const compactions = after.optimize.runs - before.optimize.runs
  if (compactions > 0 && followed === 0) fail(`churn: ${compactions} compactions, none followed by re-pointing rows`)
  if (reread >= rows) fail(`churn: ${reread} rows were read back from LanceDB (a whole reload)`)
  console.log(
    `churn: ${writes} single-row writes on ${rows}×${dim} with the graph, each checked by an exact and a graph search; ` +
      `${compactions} compactions (${followed} followed by re-pointing rows), ${rebuilds} graph rebuilds, ${reread} rows read back`,
  )
}

// ---------- kill -9 while the graph and vector files are written, then answers checked against LanceDB ----------

const PUBLISH_ROWS = 12_000 // above the 10,000 rows a load must copy before it writes a vector file
const PUBLISH_DIM = 32

/** A serving process: opens the store with the defaults and searches until it is killed. */
async function publishReader(dir, readerSeed) {
  const rand = prng(readerSeed)
  const store = await EmbeddingStore.open(dir, {})
  for (;;) {
    await store.search(vector(rand, PUBLISH_DIM), { limit: 10 })
    const { resident } = await store.stats()
    console.log(`STATE ${resident.state} ${resident.mappedBytes}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

async function publishScenario() {
  const rounds = full ? 12 : 4
  const rand = prng(seed + 5)
  const dir = tempDir()
  const writer = await EmbeddingStore.open(dir, { dimension: PUBLISH_DIM, autoIndex: false, performance: { residentMemoryMB: 0 } })
  let next = 0
  const addRows = async (n) => {
    for (let from = 0; from < n; from += 4_000) {
      const size = Math.min(4_000, n - from)
      await writer.addEmbeddings(Array.from({ length: size }, () => ({ id: `p${next++}`, vector: vector(rand, PUBLISH_DIM) })))
    }
  }
  await addRows(PUBLISH_ROWS)
  let kills = 0
  let sawShared = 0
  for (let round = 0; round < rounds; round++) {
    // A reader loads the table (writing the vector file, building and saving the graph) and is killed at a
    // random moment; between rounds the table grows, so files go stale and are written again.
    const proc = child('publish-reader', [dir, String(Math.floor(rand() * 1e9))], (line) => {
      const [what, state, mapped] = line.split(' ')
      if (what === 'STATE' && state === 'ready' && Number(mapped) > 0) sawShared++
    })
    await new Promise((r) => setTimeout(r, 200 + rand() * 2_500))
    proc.kill('SIGKILL')
    await exited(proc)
    kills++
    if (round % 2 === 1) await addRows(500)
  }
  // Whatever the kills left, a fresh store answers exactly as LanceDB does.
  const store = await EmbeddingStore.open(dir, { performance: { enableQueryCache: false } })
  for (let i = 0; i < 3_000; i++) {
    const { resident } = await store.stats()
    if (resident.state === 'ready') break
    await new Promise((r) => setTimeout(r, 10))
  }
  const served = (await store.stats()).resident
  if (served.state !== 'ready' || served.rows !== next) fail(`publish: the copy is ${served.state} with ${served.rows} of ${next} rows`)
  const lancedb = await EmbeddingStore.open(dir, { autoIndex: false, performance: { residentMemoryMB: 0 } })
  for (let q = 0; q < 30; q++) {
    const query = vector(rand, PUBLISH_DIM)
    const ours = await store.search(query, { limit: 10, exact: true })
    const theirs = await lancedb.search(query, { limit: 10, exact: true })
    ours.forEach((hit, k) => {
      const other = theirs[k]
      if (!other || Math.abs(hit.score - other.score) > 1e-5) fail(`publish: query ${q} hit ${k}: ${hit.id} ${hit.score} vs ${other?.id} ${other?.score}`)
      if (hit.id !== other.id && !theirs.some((t) => t.id === hit.id && Math.abs(t.score - hit.score) < 1e-5)) fail(`publish: query ${q}: ${hit.id} is not among LanceDB's`)
    })
  }
  const left = fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'))
  await Promise.all([store.close(), lancedb.close(), writer.close()])
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(
    `publish: ${kills} kill -9 while a reader loaded ${PUBLISH_ROWS}+ rows and wrote its vector and graph files; ` +
      `${sawShared} reports of vectors read in place before the kills; afterwards exact answers equal LanceDB's, ` +
      `${left.length} temporary files left by the kills (removed by a later write once an hour old)`,
  )
}

const scenarios = { crash: crashScenario, writers: writersScenario, load: loadScenario, fuzz: fuzzScenario, 'long-run': longRunScenario, churn: churnScenario, publish: publishScenario }

async function main() {
  if (args[0] === '--child') {
    const [, role, ...rest] = args
    if (role === 'crash-writer') return crashWriter(rest[0], Number(rest[1]))
    if (role === 'multi-writer') return multiWriter(rest[0], rest[1], Number(rest[2]))
    if (role === 'fuzz') return fuzzRunner(rest[0], Number(rest[1]), Number(rest[2]))
    if (role === 'publish-reader') return publishReader(rest[0], Number(rest[1]))
    throw new Error(`unknown child role ${role}`)
  }
  console.log(`lancestore stress (${full ? 'full' : 'short'} mode, seed ${seed})`)
  for (const [name, run] of Object.entries(scenarios)) {
    if (only && !only.includes(name)) continue
    const started = performance.now()
    await run()
    console.log(`  (${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`)
  }
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)))
