// Issue 14: searches answered from the resident in-memory copy. A store opened on the same directory with
// `residentMemoryMB: 0` searches through LanceDB and is the reference: same ids in the same order, scores
// within 1e-5. Writes from other processes are made by real child processes.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore, type SearchHit } from '../index'
import { type Metric, loadSet, randomVectors, sample, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const SHARED = join(__dirname, '..', '..', 'shared', 'data', 'minilm-384')
const lanceOnly = { performance: { residentMemoryMB: 0, enableQueryCache: false } }

async function ready(store: EmbeddingStore) {
  for (let i = 0; i < 1000; i++) {
    const { resident, version } = await store.stats()
    if (resident.state === 'ready' && resident.version === version) return resident
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`the resident copy never became ready: ${JSON.stringify((await store.stats()).resident)}`)
}

function expectSame(ours: SearchHit[], theirs: SearchHit[]) {
  expect(ours.map((h) => h.id)).toEqual(theirs.map((h) => h.id))
  ours.forEach((h, i) => {
    expect(Math.abs(h.score - theirs[i].score)).toBeLessThan(1e-5)
    expect(h.metadata).toEqual(theirs[i].metadata)
  })
}

/** Searches both stores; checks the resident one answered from memory and agrees with LanceDB. */
async function same(store: EmbeddingStore, reference: EmbeddingStore, query: Float32Array, options = {}) {
  const before = (await store.stats()).resident.searches
  const ours = await store.search(query, options)
  expect((await store.stats()).resident.searches).toBe(before + 1)
  expectSame(ours, await reference.search(query, options))
  return ours
}

/** Runs `body` in a child Node process with `store` opened on the test directory. */
function inChild(body: string) {
  const script = `
    const { EmbeddingStore } = require(${JSON.stringify(join(__dirname, '..', 'index.js'))});
    (async () => {
      const store = await EmbeddingStore.open(${JSON.stringify(dir.path)});
      const vec = (seed, n) => Array.from({ length: n }, (_, i) => { const x = Math.sin((seed + 1) * 12.9898 + i * 78.233) * 43758.5453; return x - Math.floor(x) - 0.5 });
      ${body}
      await store.close();
    })().catch((e) => { console.error(e); process.exit(1) });`
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  expect(child.stderr).toBe('')
  expect(child.status).toBe(0)
}

test.each(['cosine', 'l2', 'dot'] as Metric[])('%s: the in-memory results equal the LanceDB path on the real sample', async (metric) => {
  const set = sample()
  const fields = { section: 'string' as const }
  const store = await EmbeddingStore.open(dir.path, { dimension: set.dim, metric, fields, autoIndex: false, performance: { enableQueryCache: false } })
  await store.addEmbeddings(Array.from({ length: set.nBase }, (_, i) => ({ id: `r${i}`, vector: set.row(i), metadata: { section: set.rows[i]?.section ?? null } })))
  const reference = await EmbeddingStore.open(dir.path, lanceOnly)
  expect(await ready(store)).toMatchObject({ rows: set.nBase })
  for (let q = 0; q < 20; q++) {
    await same(store, reference, set.query(q), { limit: 10 })
    await same(store, reference, set.query(q), { limit: 25, filter: { section: 'libs' } })
    await same(store, reference, set.query(q), { limit: 5, filter: { section: { $in: ['utils', 'net'] } }, exact: true })
  }
  const top = await reference.search(set.query(0), { limit: 30 })
  const hits = await same(store, reference, set.query(0), { limit: 30, threshold: top[12].score })
  expect(hits.length).toBeGreaterThanOrEqual(13)
  await store.close()
  await reference.close()
})

const sharedTest = existsSync(SHARED) ? test : test.skip
if (!existsSync(SHARED)) console.log(`skipping the 20k MiniLM resident check: ${SHARED} is absent`)
sharedTest('shared MiniLM 20k: exact and filtered results equal the LanceDB path', async () => {
  const set = loadSet(SHARED)
  const store = await EmbeddingStore.open(dir.path, { dimension: set.dim, fields: { section: 'string' }, autoIndex: false, performance: { enableQueryCache: false } })
  await store.addEmbeddings(Array.from({ length: set.nBase }, (_, i) => ({ id: `r${i}`, vector: set.row(i), metadata: { section: set.rows[i]?.section ?? null } })))
  const reference = await EmbeddingStore.open(dir.path, lanceOnly)
  await ready(store)
  for (let q = 0; q < 30; q++) {
    await same(store, reference, set.query(q), { limit: 10 })
    await same(store, reference, set.query(q), { limit: 10, filter: { section: 'libs' } })
  }
  await store.close()
  await reference.close()
}, 300_000)

test("another process's add, delete, upsert and compaction are seen by the next search", async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 8, metric: 'l2', autoIndex: false, performance: { enableQueryCache: false } })
  const reference = await EmbeddingStore.open(dir.path, lanceOnly)
  const vectors = randomVectors(300, 8, 5)
  await store.addEmbeddings(vectors.map((vector, i) => ({ id: `p${i}`, vector })))
  const query = randomVectors(1, 8, 6)[0]
  const all = { limit: 1000 }
  expect(await same(store, reference, query, all)).toHaveLength(300)

  inChild(`await store.addEmbeddings(Array.from({ length: 40 }, (_, i) => ({ id: 'c' + i, vector: vec(i, 8) })));`)
  expect(await same(store, reference, query, all)).toHaveLength(340)

  inChild(`await store.delete(Array.from({ length: 25 }, (_, i) => 'p' + i));`)
  const afterDelete = await same(store, reference, query, all)
  expect(afterDelete).toHaveLength(315)
  expect(afterDelete.some((h) => h.id === 'p3')).toBe(false)

  inChild(`await store.upsertEmbeddings([{ id: 'p100', vector: vec(99, 8), metadata: { new: true } }, { id: 'u1', vector: vec(98, 8) }]);`)
  const afterUpsert = await same(store, reference, query, all)
  expect(afterUpsert).toHaveLength(316)
  expect(afterUpsert.find((h) => h.id === 'p100')?.metadata).toEqual({ new: true })

  inChild(`await store.optimize({ retainVersionsSeconds: 0 });`)
  expect(await same(store, reference, query, all)).toHaveLength(316)
  const { resident, version, rows } = await store.stats()
  expect(resident).toMatchObject({ state: 'ready', rows, version })
  await store.close()
  await reference.close()
})

test('concurrent searches during a large catch-up are all answered, and correctly', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 16, autoIndex: false, performance: { enableQueryCache: false } })
  const reference = await EmbeddingStore.open(dir.path, lanceOnly)
  await store.addEmbeddings(randomVectors(100, 16, 1).map((vector, i) => ({ id: `a${i}`, vector })))
  await ready(store)
  // 15,000 rows from another process: more than a search catches up inline, so the copy loads in the
  // background while LanceDB answers.
  inChild(`
    const items = Array.from({ length: 15000 }, (_, i) => ({ id: 'b' + i, vector: vec(i, 16) }));
    await store.addEmbeddings(items);`)
  const queries = randomVectors(100, 16, 2)
  const results = await Promise.all(queries.map((q) => store.search(q, { limit: 5 })))
  const expected = await Promise.all(queries.map((q) => reference.search(q, { limit: 5 })))
  results.forEach((hits, i) => expectSame(hits, expected[i]))
  expect(await ready(store)).toMatchObject({ rows: 15_100 })
  await same(store, reference, queries[0], { limit: 5 })
  await store.close()
  await reference.close()
})

test('a table over residentMemoryMB is searched through LanceDB; 0 turns the copy off', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 256, autoIndex: false, performance: { residentMemoryMB: 1, enableQueryCache: false } })
  const vectors = randomVectors(1500, 256, 3) // 1.5 MB of vectors
  await store.addEmbeddings(vectors.map((vector, i) => ({ id: `o${i}`, vector })))
  const reference = await EmbeddingStore.open(dir.path, lanceOnly)
  expectSame(await store.search(vectors[7], { limit: 5 }), await reference.search(vectors[7], { limit: 5 }))
  expect((await store.stats()).resident).toMatchObject({ state: 'over_budget', rows: 0, bytes: 0, searches: 0 })
  expect((await reference.stats()).resident).toMatchObject({ state: 'off', rows: 0 })
  await expect(EmbeddingStore.open(dir.path, { performance: { residentMemoryMB: -1 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(EmbeddingStore.open(dir.path, { performance: { residentMemoryMB: 1.5 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await store.close()
  await reference.close()
})

test('addEmbeddings checks ids against the in-memory id map', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 4 })
  await store.addEmbeddings([{ id: 'x', vector: [1, 0, 0, 0] }])
  await ready(store)
  await expect(store.addEmbeddings([{ id: 'y', vector: [0, 1, 0, 0] }, { id: 'x', vector: [0, 0, 1, 0] }])).rejects.toMatchObject({ code: 'DUPLICATE_ID' })
  // Another process adds 'z': the copy is behind, so the check asks LanceDB (the map only answers for the latest version).
  inChild(`await store.addEmbeddings([{ id: 'z', vector: [0, 0, 0, 1] }]);`)
  await expect(store.addEmbeddings([{ id: 'z', vector: [1, 1, 0, 0] }])).rejects.toMatchObject({ code: 'DUPLICATE_ID' })
  expect(await store.count()).toBe(2)
  await store.close()
})
