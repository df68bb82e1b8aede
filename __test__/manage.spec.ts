// Managing data: upsert, get, delete by ids and by filter, optimize and automatic compaction.
import { join } from 'node:path'
import { types } from 'node:util'
import { EmbeddingStore, type ErrorCode } from '../index'
import { randomVectors, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const fields = { section: 'string', year: 'int', tags: 'string[]' } as const

test('upsert replaces vector and metadata: search finds the new vector, not the old', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 3, fields })
  await store.addEmbeddings([
    { id: 'doc', vector: [1, 0, 0], metadata: { section: 'old', year: 2000 } },
    { id: 'other', vector: [0, 0, 1], metadata: { section: 'x' } },
  ])
  const res = await store.upsertEmbeddings([
    { id: 'doc', vector: [0, 1, 0], metadata: { section: 'new', year: 2024, extra: [1, { a: 'ü' }] } },
    { id: 'fresh', vector: [0.7, 0.7, 0] },
  ])
  expect(res).toMatchObject({ inserted: 1, updated: 1 })
  await expect(store.count()).resolves.toBe(3)
  const [nearOld] = await store.search([1, 0, 0], { limit: 1 })
  expect(nearOld.id).toBe('fresh')
  const [nearNew] = await store.search([0, 1, 0], { limit: 1 })
  expect(nearNew).toMatchObject({ id: 'doc', metadata: { section: 'new', year: 2024, extra: [1, { a: 'ü' }] } })
  await expect(store.count({ filter: { section: 'old' } })).resolves.toBe(0)
  await expect(store.count({ filter: { section: 'new' } })).resolves.toBe(1)
  await store.close()
})

test('upsert validates like add and writes nothing on error', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2, fields })
  await store.addEmbeddings([{ id: 'a', vector: [1, 0] }])
  const version = await store.version()
  const dup: ErrorCode = 'DUPLICATE_ID'
  await expect(store.upsertEmbeddings([{ id: 'b', vector: [1, 1] }, { id: 'b', vector: [0, 1] }])).rejects.toMatchObject({ code: dup })
  const invalid: ErrorCode = 'INVALID_ARGUMENT'
  await expect(store.upsertEmbeddings([{ id: 'a', vector: [0, 1], metadata: { year: 'soon' } }])).rejects.toMatchObject({
    code: invalid,
    message: expect.stringMatching(/items\[0\]\.metadata\.year.*int/),
  })
  await expect(store.version()).resolves.toBe(version)
  await store.close()
})

test('get returns items in the order asked, with null for missing ids', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 4 })
  const vectors = randomVectors(3, 4, 1)
  await store.addEmbeddings(vectors.map((vector, i) => ({ id: `id-${i}`, vector, metadata: i === 1 ? null : { i } })))
  const got = await store.get(['id-2', 'nope', 'id-0', 'id-1'])
  expect(got.map((g) => g?.id ?? null)).toEqual(['id-2', null, 'id-0', 'id-1'])
  expect(types.isFloat32Array(got[0]?.vector)).toBe(true) // cross-realm safe under jest
  expect(Array.from(got[0]!.vector)).toEqual(Array.from(vectors[2]))
  expect(got[0]?.metadata).toEqual({ i: 2 })
  expect(got[3]?.metadata).toBeNull()
  await expect(store.get([])).resolves.toEqual([])
  await expect(store.get([''])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(store.get('id-0' as unknown as string[])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await store.close()
})

test('delete by ids and by filter, and the cache never serves deleted rows', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2, fields })
  await store.addEmbeddings([
    { id: 'a', vector: [1, 0], metadata: { section: 'libs', year: 2020 } },
    { id: 'b', vector: [0.9, 0.1], metadata: { section: 'utils', year: 2021 } },
    { id: 'c', vector: [0.8, 0.2], metadata: { section: 'utils', year: 2022 } },
    { id: 'd', vector: [0, 1], metadata: { section: 'doc' } },
  ])
  const before = await store.search([1, 0], { limit: 2 })
  expect(before.map((h) => h.id)).toEqual(['a', 'b'])
  const byId = await store.delete(['a', 'missing'])
  expect(byId.deleted).toBe(1)
  const after = await store.search([1, 0], { limit: 2 })
  expect(after.map((h) => h.id)).toEqual(['b', 'c'])
  const byFilter = await store.delete({ filter: { section: 'utils', year: { $gte: 2022 } } })
  expect(byFilter).toMatchObject({ deleted: 1 })
  await expect(store.get(['b', 'c'])).resolves.toMatchObject([{ id: 'b' }, null])
  const none = await store.delete({ filter: { section: 'nothing' } })
  expect(none.deleted).toBe(0)
  await expect(store.delete({ filter: {} })).rejects.toMatchObject({ code: 'INVALID_FILTER' })
  await expect(store.delete({ filter: { undeclared: 1 } })).rejects.toMatchObject({ code: 'INVALID_FILTER' })
  await expect(store.count()).resolves.toBe(2)
  await store.close()
})

test('optimize compacts many small commits and search answers stay the same', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 8, performance: { autoOptimizeEvery: 0 } })
  const vectors = randomVectors(200, 8, 9)
  for (let i = 0; i < vectors.length; i++) await store.addEmbeddings([{ id: `s${i}`, vector: vectors[i] }])
  const query = randomVectors(1, 8, 10)[0]
  const before = await store.search(query, { limit: 10 })
  const result = await store.optimize({ retainVersionsSeconds: 0 })
  expect(result.fragmentsRemoved).toBeGreaterThanOrEqual(200)
  expect(result.fragmentsAdded).toBe(1)
  expect(result.versionsPruned).toBeGreaterThanOrEqual(200) // only the latest version is kept
  await expect(store.optimize({ retainVersionsSeconds: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  const after = await store.search(query, { limit: 10 })
  expect(after.map((h) => h.id)).toEqual(before.map((h) => h.id))
  const stats = await store.stats()
  expect(stats.optimize).toMatchObject({ runs: 1, commitsSinceOptimize: 0, lastError: null })
  await store.close()
})

test('automatic compaction runs after autoOptimizeEvery commits', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 4, performance: { autoOptimizeEvery: 10 } })
  const vectors = randomVectors(25, 4, 3)
  for (let i = 0; i < vectors.length; i++) await store.addEmbeddings([{ id: `k${i}`, vector: vectors[i] }])
  // The compaction runs in the background: wait until it reports.
  for (let tries = 0; tries < 100 && (await store.stats()).optimize.runs === 0; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const { optimize } = await store.stats()
  expect(optimize.runs).toBeGreaterThanOrEqual(1)
  expect(optimize.lastError).toBeNull()
  await expect(store.count()).resolves.toBe(25)
  await store.close()
})

test('fields are fixed at creation and reported', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2, fields })
  expect(store.fields).toEqual({ section: 'string', tags: 'string[]', year: 'int' })
  await store.close()
  await expect(EmbeddingStore.open(dir.path, { fields: { other: 'int' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(EmbeddingStore.open(join(dir.path, 'x'), { dimension: 2, fields: { id: 'string' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(EmbeddingStore.open(join(dir.path, 'y'), { dimension: 2, fields: { a: 'date' as 'int' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
})
