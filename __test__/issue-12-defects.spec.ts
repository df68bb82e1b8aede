// Issue 12: defects found on review. Each test fails on the code before the fix.
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore, type ErrorCode } from '../index'
import { randomVectors, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

/** Polls `stats().index` until no index job runs (upkeep is started before a write resolves). */
async function settledIndex(store: EmbeddingStore) {
  for (let tries = 0; tries < 1_200; tries++) {
    const stats = await store.stats()
    if (!stats.index.building) return stats
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('an index job ran for more than a minute')
}

/** Every file under `root` with its size and modification time. */
function snapshot(root: string): Record<string, string> {
  const files: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name)
      const s = statSync(path)
      if (s.isDirectory()) walk(path)
      else files[path] = `${s.size}:${s.mtimeMs}`
    }
  }
  walk(root)
  return files
}

test('1. the automatic index is built once and then kept, not rebuilt after every write', async () => {
  const dim = 16
  // LanceDB's index (the resident copy, whose graph is tested in issue-15-graph.spec.ts, is off).
  const performance = { residentMemoryMB: 0 }
  const store = await EmbeddingStore.open(dir.path, { dimension: dim, performance })
  const vectors = randomVectors(5_010, dim, 3)
  await store.addEmbeddings(vectors.slice(0, 5_000).map((vector, i) => ({ id: `${i}`, vector })))
  const built = await settledIndex(store)
  expect(built.index).toMatchObject({ kind: 'ivf_hnsw_sq', builds: 1, lastError: null })
  for (let i = 5_000; i < 5_010; i++) {
    await store.addEmbeddings([{ id: `${i}`, vector: vectors[i] }])
    const after = await settledIndex(store)
    expect(after.index).toMatchObject({ builds: 1, name: built.index.name, indexedRows: 5_000, unindexedRows: i - 4_999 })
  }
  // A reopened store does not rebuild it either.
  await store.close()
  const again = await EmbeddingStore.open(dir.path, { performance })
  expect((await settledIndex(again)).index).toMatchObject({ builds: 0, indexedRows: 5_000 })
  await again.close()
})

test('2. a second store on the table sees a write at once even with readConsistencyIntervalMs', async () => {
  const performance = { readConsistencyIntervalMs: 60_000 }
  const a = await EmbeddingStore.open(dir.path, { dimension: 2, performance })
  const b = await EmbeddingStore.open(dir.path, { performance })
  await a.addEmbeddings([{ id: 'first', vector: [1, 0] }])
  expect((await b.search([0, 1])).map((h) => h.id)).toEqual(['first'])
  await a.addEmbeddings([{ id: 'second', vector: [0, 1] }])
  expect((await b.search([0, 1]))[0].id).toBe('second')
  await expect(b.count()).resolves.toBe(2)
  await a.close()
  await b.close()
})

test('4. many opens of one new directory at once all succeed', async () => {
  const path = join(dir.path, 'fresh')
  const stores = await Promise.all(Array.from({ length: 16 }, () => EmbeddingStore.open(path, { dimension: 4 })))
  await stores[0].addEmbeddings([{ id: 'a', vector: [1, 0, 0, 0] }])
  for (const store of stores) await expect(store.count()).resolves.toBe(1)
  await Promise.all(stores.map((s) => s.close()))
})

test('5. after close() resolves nothing of the store touches the directory, even with a build running', async () => {
  const dim = 32
  const store = await EmbeddingStore.open(dir.path, { dimension: dim })
  await store.addEmbeddings(randomVectors(6_000, dim, 5).map((vector, i) => ({ id: `${i}`, vector })))
  expect((await store.stats()).index.building).toBe(true) // the automatic build started with the write
  await store.close()
  const before = snapshot(dir.path)
  await new Promise((r) => setTimeout(r, 1_500))
  expect(snapshot(dir.path)).toEqual(before)
  // The store is intact: reopened, it holds every row (and builds the index again itself).
  const again = await EmbeddingStore.open(dir.path, { autoIndex: false })
  await expect(again.count()).resolves.toBe(6_000)
  await again.close()
})

test('7. fields named like SQL keywords filter, count and delete', async () => {
  const fields = { order: 'int', select: 'string', group: 'string', from: 'bool' } as const
  const store = await EmbeddingStore.open(dir.path, { dimension: 2, fields })
  await store.addEmbeddings([
    { id: 'a', vector: [1, 0], metadata: { order: 1, select: 'x', group: 'g', from: true } },
    { id: 'b', vector: [0, 1], metadata: { order: 2, select: 'y', group: 'g', from: false } },
  ])
  expect((await store.search([1, 0], { filter: { order: { $gte: 2 } } })).map((h) => h.id)).toEqual(['b'])
  expect((await store.search([1, 0], { filter: { select: 'x', group: 'g', from: true } })).map((h) => h.id)).toEqual(['a'])
  await expect(store.count({ filter: { $or: [{ order: 1 }, { select: 'y' }] } })).resolves.toBe(2)
  await store.optimize() // scalar indexes on the keyword-named columns
  await expect(store.count({ filter: { group: 'g' } })).resolves.toBe(2)
  await expect(store.delete({ filter: { order: 1 } })).resolves.toMatchObject({ deleted: 1 })
  await expect(store.count()).resolves.toBe(1)
  await store.close()
})

test('8. CONFLICT is a documented code and IO errors name the operating system error kind', async () => {
  const conflict: ErrorCode = 'CONFLICT' // fails to compile if the code is missing from the union
  expect(conflict).toBe('CONFLICT')
  const file = join(dir.path, 'file')
  writeFileSync(file, 'x')
  const err = await EmbeddingStore.open(join(file, 'store'), { dimension: 2 }).catch((e: unknown) => e)
  expect(err).toMatchObject({ code: 'IO', message: expect.stringMatching(/\((NotADirectory|AlreadyExists|Other)\)$/) })
})

test('9. stats count adds and upserts apart', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2 })
  await store.addEmbeddings([{ id: 'a', vector: [1, 0] }])
  await store.upsertEmbeddings([
    { id: 'a', vector: [0, 1] },
    { id: 'b', vector: [1, 1] },
  ])
  const stats = await store.stats()
  expect(stats).toMatchObject({ inserts: 1, rowsInserted: 1, upserts: 1, rowsUpserted: 2 })
  expect(stats.insertLatency.count).toBe(1)
  expect(stats.upsertLatency.count).toBe(1)
  await store.close()
})
