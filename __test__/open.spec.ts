// Opening, reopening, options, getters, persistence across processes, closing.
import { spawnSync } from 'node:child_process'
import { writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore, type ErrorCode } from '../index'
import { isError, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

test('creates a store with defaults and reports them', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 3 })
  expect(store.dimension).toBe(3)
  expect(store.metric).toBe('cosine')
  expect(store.table).toBe('embeddings')
  expect(store.closed).toBe(false)
  expect(existsSync(store.path)).toBe(true)
  await expect(store.count()).resolves.toBe(0)
  await store.close()
  expect(store.closed).toBe(true)
})

test('creates the directory when it does not exist', async () => {
  const nested = join(dir.path, 'a', 'b', 'vectors')
  const store = await EmbeddingStore.open(nested, { dimension: 2, metric: 'l2', table: 'docs_v1' })
  expect(existsSync(nested)).toBe(true)
  expect(store.metric).toBe('l2')
  expect(store.table).toBe('docs_v1')
  await store.close()
})

test('a new table needs a dimension', async () => {
  const code: ErrorCode = 'INVALID_ARGUMENT'
  await expect(EmbeddingStore.open(dir.path)).rejects.toMatchObject({ code, message: expect.stringMatching(/dimension/) })
})

test('reopening takes the dimension and metric from the table, and rejects a different one', async () => {
  const first = await EmbeddingStore.open(dir.path, { dimension: 4, metric: 'dot' })
  await first.addEmbeddings([{ id: 'a', vector: [1, 0, 0, 0] }])
  await first.close()

  const again = await EmbeddingStore.open(dir.path)
  expect(again.dimension).toBe(4)
  expect(again.metric).toBe('dot')
  await again.close()

  const mismatch: ErrorCode = 'DIMENSION_MISMATCH'
  await expect(EmbeddingStore.open(dir.path, { dimension: 8 })).rejects.toMatchObject({
    code: mismatch,
    message: expect.stringMatching(/8.*4-dimensional/),
  })
  const invalid: ErrorCode = 'INVALID_ARGUMENT'
  await expect(EmbeddingStore.open(dir.path, { metric: 'cosine' })).rejects.toMatchObject({
    code: invalid,
    message: expect.stringMatching(/created with metric 'dot'/),
  })
  const ok = await EmbeddingStore.open(dir.path, { dimension: 4, metric: 'dot' })
  await expect(ok.count()).resolves.toBe(1)
  await ok.close()
})

test.each([
  [{ dimension: 0 }],
  [{ dimension: -1 }],
  [{ dimension: 1.5 }],
  [{ dimension: Number.NaN }],
  [{ dimension: 3, metric: 'euclidean' as 'l2' }],
  [{ dimension: 3, table: '../escape' }],
  [{ dimension: 3, table: '' }],
  [{ dimension: 3, maxConcurrentSearches: 0 }],
  [{ dimension: 3, performance: { batchSize: -5 } }],
  [{ dimension: 'three' as unknown as number }],
])('rejects bad options %j with INVALID_ARGUMENT', async (options) => {
  const code: ErrorCode = 'INVALID_ARGUMENT'
  await expect(EmbeddingStore.open(dir.path, options)).rejects.toMatchObject({ code })
})

test('rejects a path that is not a string, or empty, with INVALID_ARGUMENT', async () => {
  const code: ErrorCode = 'INVALID_ARGUMENT'
  await expect(EmbeddingStore.open(42 as unknown as string, { dimension: 3 })).rejects.toMatchObject({ code })
  await expect(EmbeddingStore.open('', { dimension: 3 })).rejects.toMatchObject({ code })
})

test('rejects a path that cannot be a directory with IO', async () => {
  const file = join(dir.path, 'not-a-dir')
  writeFileSync(file, 'x')
  const code: ErrorCode = 'IO'
  const err = await EmbeddingStore.open(join(file, 'store'), { dimension: 3 }).catch((e: unknown) => e)
  expect(isError(err)).toBe(true)
  expect(err).toMatchObject({ code, message: expect.stringMatching(/store directory/) })
})

test('every call after close rejects with STORE_CLOSED, and close is idempotent', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 2 })
  await store.close()
  await store.close()
  const code: ErrorCode = 'STORE_CLOSED'
  await expect(store.count()).rejects.toMatchObject({ code })
  await expect(store.version()).rejects.toMatchObject({ code })
  await expect(store.search([1, 0])).rejects.toMatchObject({ code })
  await expect(store.addEmbeddings([{ id: 'a', vector: [1, 0] }])).rejects.toMatchObject({ code })
})

test('two stores on one directory see each other’s writes', async () => {
  const a = await EmbeddingStore.open(dir.path, { dimension: 2 })
  const b = await EmbeddingStore.open(dir.path)
  await a.addEmbeddings([{ id: 'x', vector: [1, 0] }])
  await expect(b.count()).resolves.toBe(1)
  const hits = await b.search([1, 0])
  expect(hits.map((h) => h.id)).toEqual(['x'])
  await a.close()
  await expect(b.count()).resolves.toBe(1) // closing one store leaves the other working
  await b.close()
})

test('data persists: a new process sees every acknowledged write', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 3 })
  await store.addEmbeddings([
    { id: 'p1', vector: [1, 0, 0], metadata: { n: 1 } },
    { id: 'p2', vector: [0, 1, 0], metadata: { n: 2 } },
  ])
  await store.close()
  const script = `
    const { EmbeddingStore } = require(${JSON.stringify(join(__dirname, '..', 'index.js'))});
    (async () => {
      const s = await EmbeddingStore.open(${JSON.stringify(dir.path)});
      const hits = await s.search([0, 1, 0], { limit: 1 });
      console.log(JSON.stringify({ count: await s.count(), hit: hits[0] }));
      await s.close();
    })().catch((e) => { console.error(e); process.exit(1) });`
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  expect(child.stderr).toBe('')
  const out = JSON.parse(child.stdout)
  expect(out.count).toBe(2)
  expect(out.hit).toMatchObject({ id: 'p2', metadata: { n: 2 } })
})
