// Issue 15: the HNSW graph over the resident vectors. Checked against brute force on the repo's real
// sample (and on ../shared/data when present): recall, exact scores, filters, the graph file beside
// the table (loaded by a second process, ignored when damaged), and the option checks.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore } from '../index'
import { type EmbeddingSet, bruteForce, isError, loadSet, sample, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const graphFile = () => join(dir.path, '.lancestore-embeddings.hnsw')

async function filled(set: EmbeddingSet, options = {}) {
  const store = await EmbeddingStore.open(dir.path, {
    dimension: set.dim,
    autoIndex: false,
    fields: { section: 'string' },
    performance: { enableQueryCache: false },
    ...options,
  })
  for (let from = 0; from < set.nBase; from += 5_000) {
    const rows = Array.from({ length: Math.min(5_000, set.nBase - from) }, (_, i) => ({
      id: `${from + i}`,
      vector: set.row(from + i),
      metadata: { section: set.rows[from + i]?.section ?? 'none' },
    }))
    await store.addEmbeddings(rows)
  }
  return store
}

/** Waits until the graph covers every row. */
async function graphReady(store: EmbeddingStore) {
  for (let i = 0; i < 3000; i++) {
    const { index } = await store.stats()
    if (index.kind === 'hnsw' && index.unindexedRows === 0 && !index.building && index.indexedRows > 0) return index
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`the graph never became ready: ${JSON.stringify((await store.stats()).index)}`)
}

/** A section filter: rows in `section`, or (with `not`) every row outside it. */
type SectionFilter = { section: string; not?: boolean }

/** recall@10 of default searches against brute force over the rows (optionally those a section filter keeps). */
async function recall(store: EmbeddingStore, set: EmbeddingSet, queries: number, by?: SectionFilter) {
  const keeps = (i: number) => !by || (set.rows[i].section === by.section) !== Boolean(by.not)
  const allowed = Array.from({ length: set.nBase }, (_, i) => ({ v: set.row(i), i })).filter(({ i }) => keeps(i))
  const filter = by && (by.not ? { section: { $ne: by.section } } : { section: by.section })
  let found = 0
  for (let q = 0; q < queries; q++) {
    const truth = bruteForce('cosine', set.query(q), allowed.map((a) => a.v), 10).map((t) => `${allowed[t.i].i}`)
    const hits = await store.search(set.query(q), filter ? { filter } : {})
    expect(hits).toHaveLength(Math.min(10, allowed.length))
    for (const h of hits) expect(keeps(Number(h.id))).toBe(true)
    found += hits.filter((h) => truth.includes(h.id)).length
  }
  return found / (queries * Math.min(10, allowed.length))
}

test('createIndex({ kind: "hnsw" }) builds the graph; hits carry exact scores and reach recall 0.95', async () => {
  const set = sample()
  const store = await filled(set)
  const report = await store.createIndex({ kind: 'hnsw' })
  expect(report).toMatchObject({ kind: 'hnsw', rows: set.nBase, numEdges: 16, efConstruction: 128 })
  const { index } = await store.stats()
  expect(index).toMatchObject({ kind: 'hnsw', indexedRows: set.nBase, unindexedRows: 0, building: false, lastError: null })
  expect(index.graph).toMatchObject({ numEdges: 16, efConstruction: 128, removedRows: 0, source: 'built', ignoredFile: null })
  expect(index.graph!.bytes).toBeGreaterThan(set.nBase * set.dim * 2) // f16 vectors at least
  expect(existsSync(graphFile())).toBe(true)

  expect(await recall(store, set, 50)).toBeGreaterThanOrEqual(0.95)
  const exact = await store.search(set.query(7), { exact: true, limit: 50 })
  for (const hit of await store.search(set.query(7))) {
    const twin = exact.find((h) => h.id === hit.id)
    if (twin) expect(hit.score).toBe(twin.score)
  }
  // A wider `ef` is accepted and does not lower recall: over 30 queries against the exact top 10 (one query could
  // miss a row either way: the graph is built by several threads, so it differs from build to build).
  let atDefault = 0
  let wide = 0
  for (let q = 0; q < 30; q++) {
    const truth = (await store.search(set.query(q), { exact: true })).map((h) => h.id)
    atDefault += (await store.search(set.query(q))).filter((h) => truth.includes(h.id)).length
    wide += (await store.search(set.query(q), { ef: 400 })).filter((h) => truth.includes(h.id)).length
  }
  expect(wide).toBeGreaterThanOrEqual(atDefault)
  expect(wide / 300).toBeGreaterThanOrEqual(0.99)
  await store.close()
})

test('a filter is applied before the top-k; below the switch (√(2,300 × rows) selected rows) the selected rows are scanned exactly', async () => {
  const set = sample()
  const store = await filled(set)
  await store.createIndex({ kind: 'hnsw' })
  // On 2,000 rows the switch is at ≈ 2,145 selected rows: every filter here is answered exactly (recall 1).
  // The graph's filtered walk is checked on the shared 20k sets below and in the core's tests.
  expect(await recall(store, set, 20, { section: 'libs' })).toBe(1)
  expect(await recall(store, set, 20, { section: 'libs', not: true })).toBe(1)
  expect(await recall(store, set, 20, { section: 'embedded' })).toBe(1)
  await store.close()
})

test('a second process loads the saved graph instead of rebuilding it; a damaged file is ignored and rebuilt', async () => {
  const set = sample()
  const store = await filled(set)
  await store.createIndex({ kind: 'hnsw' })
  await store.close()
  const child = () => {
    const script = `
      const { EmbeddingStore } = require(${JSON.stringify(join(__dirname, '..', 'index.js'))});
      (async () => {
        const store = await EmbeddingStore.open(${JSON.stringify(dir.path)}, { autoIndex: false });
        for (let i = 0; i < 3000; i++) {
          const { index } = await store.stats();
          if (index.kind === 'hnsw' && index.unindexedRows === 0 && !index.building && index.indexedRows > 0) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        const { index } = await store.stats();
        const hits = await store.search(new Float32Array(${JSON.stringify(Array.from(set.row(5)))}), { limit: 1 });
        console.log(JSON.stringify({ graph: index.graph, rows: index.indexedRows, top: hits[0].id }));
        await store.close();
      })().catch((e) => { console.error(e); process.exit(1) });`
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    return JSON.parse(run.stdout)
  }
  const loaded = child()
  expect(loaded).toMatchObject({ rows: set.nBase, top: '5', graph: { source: 'loaded', ignoredFile: null } })

  const good = readFileSync(graphFile())
  truncateSync(graphFile(), Math.floor(good.length / 2))
  const truncated = child()
  expect(truncated).toMatchObject({ rows: set.nBase, top: '5', graph: { source: 'built' } })
  expect(truncated.graph.ignoredFile).toMatch(/truncated/)

  const corrupt = Buffer.from(good)
  corrupt[corrupt.length - 10] ^= 0xff
  writeFileSync(graphFile(), corrupt)
  const flipped = child()
  expect(flipped.graph.ignoredFile).toMatch(/checksum/)
  expect(child().graph.source).toBe('loaded') // the rebuilt graph was saved again
})

test('hnsw options are checked, and the graph needs the resident copy', async () => {
  const set = sample()
  const store = await filled(set)
  for (const bad of [{ numPartitions: 4 }, { numEdges: 1 }, { efConstruction: 5 }, { sampleRate: 8 }]) {
    const err = await store.createIndex({ kind: 'hnsw', ...bad }).catch((e: unknown) => e)
    expect(isError(err) && err.code).toBe('INVALID_ARGUMENT')
  }
  await store.close()
  const off = await EmbeddingStore.open(dir.path, { performance: { residentMemoryMB: 0 } })
  const err = await off.createIndex({ kind: 'hnsw' }).catch((e: unknown) => e)
  expect(isError(err) && err.code).toBe('INVALID_ARGUMENT')
  await off.close()
})

const shared = join(__dirname, '..', '..', 'shared', 'data')
const sets = ['minilm-384', 'mpnet-768'].filter((name) => {
  const present = existsSync(join(shared, name, 'base.f32'))
  if (!present) console.warn(`skipping the graph recall test on ${name}: ${join(shared, name)} is absent`)
  return present
})
const describeSets = sets.length > 0 ? describe.each(sets) : describe.skip.each(['(absent)'])

describeSets('the default graph on ../shared/data/%s (20k rows; skipped when absent)', (name) => {
  test('recall@10 ≥ 0.95 unfiltered (against the exact ground truth) and filtered (against brute force)', async () => {
    // Both sets embed the same texts in the same order; the sections are listed beside MiniLM's.
    const set = { ...loadSet(join(shared, name)), rows: loadSet(join(shared, 'minilm-384')).rows }
    const raw = readFileSync(join(shared, name, 'gt.i32'))
    const truth = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
    const store = await filled(set)
    const report = await store.createIndex() // "auto": the graph, on a table held in memory
    expect(report.kind).toBe('hnsw')
    let found = 0
    for (let q = 0; q < set.nQueries; q++) {
      const want = new Set(Array.from(truth.subarray(q * 100, q * 100 + 10), String))
      found += (await store.search(set.query(q))).filter((h) => want.has(h.id)).length
    }
    const unfiltered = found / (10 * set.nQueries)
    // Sections of 1–10 % (exact scan of the selected rows) and everything outside one (~90 %: the graph's filtered walk).
    let filteredFound = 0
    const sections = ['libs', 'python', 'games', 'sound', 'x11', 'science']
    for (const section of sections) filteredFound += await recall(store, set, 10, { section })
    const filtered = filteredFound / sections.length
    const walked = (await recall(store, set, 50, { section: 'libs', not: true })) // 17,899 rows: above the switch
    console.log(`${name} hnsw: recall@10 ${unfiltered.toFixed(4)}, one section ${filtered.toFixed(4)}, all but one ${walked.toFixed(4)}, build ${Math.round(report.buildMs)} ms`)
    expect(unfiltered).toBeGreaterThanOrEqual(0.95)
    expect(filtered).toBeGreaterThanOrEqual(0.95)
    expect(walked).toBeGreaterThanOrEqual(0.95)
    await store.close()
  })
})
