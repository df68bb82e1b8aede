// addEmbeddings: round trips, atomic batches, duplicate ids and every input error, store unchanged after each.
import { EmbeddingStore, type EmbeddingItem, type ErrorCode } from '../index'
import { isError, randomVectors, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
let store: EmbeddingStore
beforeEach(async () => {
  dir = tempDir()
  store = await EmbeddingStore.open(dir.path, { dimension: 4 })
})
afterEach(async () => {
  await store.close()
  dir.remove()
})

/** Asserts a rejection's code and that the store holds exactly what it held before. */
async function expectRejectedAndUnchanged(call: Promise<unknown>, code: ErrorCode, message?: RegExp) {
  const countBefore = await store.count()
  const versionBefore = await store.version()
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isError(err)).toBe(true)
  expect(err).toMatchObject({ code })
  if (message) expect((err as Error).message).toMatch(message)
  await expect(store.count()).resolves.toBe(countBefore)
  await expect(store.version()).resolves.toBe(versionBefore)
}

test('adds Float32Array and number[] vectors and returns the count and version', async () => {
  const v0 = await store.version()
  const res = await store.addEmbeddings([
    { id: 'f32', vector: new Float32Array([1, 0, 0, 0]) },
    { id: 'arr', vector: [0, 1, 0, 0] },
  ])
  expect(res.added).toBe(2)
  expect(res.version).toBeGreaterThan(v0)
  await expect(store.version()).resolves.toBe(res.version)
  await expect(store.count()).resolves.toBe(2)
  const [hit] = await store.search(new Float32Array([0, 1, 0, 0]), { limit: 1 })
  expect(hit.id).toBe('arr')
  const [hit2] = await store.search([1, 0, 0, 0], { limit: 1 })
  expect(hit2.id).toBe('f32')
})

test('an empty batch writes nothing and resolves added: 0', async () => {
  const v0 = await store.version()
  await expect(store.addEmbeddings([])).resolves.toEqual({ added: 0, version: v0 })
})

test('metadata round-trips exactly: nested values, unicode, numbers, null', async () => {
  const metadata = {
    title: 'Grüße, 世界 🚀 "quoted" \\ back\'slash',
    nested: { list: [1, 2.5, -3, 1e-7, 12345678901234], flag: true, none: null, empty: {} },
    big: Number.MAX_SAFE_INTEGER,
    neg: -0.125,
    text: 'line\nbreak\ttab',
  }
  await store.addEmbeddings([
    { id: 'm', vector: [1, 0, 0, 0], metadata },
    { id: 'none', vector: [0, 1, 0, 0] },
    { id: 'null', vector: [0, 0, 1, 0], metadata: null },
  ])
  const hits = await store.search([1, 0, 0, 0], { limit: 3 })
  const byId = Object.fromEntries(hits.map((h) => [h.id, h.metadata]))
  expect(byId.m).toEqual(metadata)
  expect(byId.none).toBeNull()
  expect(byId.null).toBeNull()
})

test('ids are unicode strings and may contain quotes and SQL', async () => {
  const ids = ["it's", 'a"b', 'x\\y', "'; DROP TABLE embeddings; --", 'ü-🚀', '%_*']
  const vectors = randomVectors(ids.length, 4, 1)
  await store.addEmbeddings(ids.map((id, i) => ({ id, vector: vectors[i] })))
  await expect(store.count()).resolves.toBe(ids.length)
  for (const id of ids) {
    await expectRejectedAndUnchanged(store.addEmbeddings([{ id, vector: [1, 1, 1, 1] }]), 'DUPLICATE_ID')
  }
  const hits = await store.search(vectors[3], { limit: 1 })
  expect(hits[0].id).toBe(ids[3])
})

test('a batch that repeats an id rejects with DUPLICATE_ID naming it and writes nothing', async () => {
  await expectRejectedAndUnchanged(
    store.addEmbeddings([
      { id: 'a', vector: [1, 0, 0, 0] },
      { id: 'b', vector: [0, 1, 0, 0] },
      { id: 'a', vector: [0, 0, 1, 0] },
    ]),
    'DUPLICATE_ID',
    /"a"/,
  )
  await expect(store.count()).resolves.toBe(0)
})

test('adding an id already stored rejects with DUPLICATE_ID and writes none of the batch', async () => {
  await store.addEmbeddings([{ id: 'old', vector: [1, 0, 0, 0] }])
  await expectRejectedAndUnchanged(
    store.addEmbeddings([
      { id: 'new-1', vector: [0, 1, 0, 0] },
      { id: 'old', vector: [0, 0, 1, 0] },
    ]),
    'DUPLICATE_ID',
    /"old".*already/,
  )
  await expect(store.count()).resolves.toBe(1)
})

test('duplicate detection holds across many ids (more than one lookup chunk)', async () => {
  const n = 5000
  const vectors = randomVectors(n, 4, 7)
  await store.addEmbeddings(vectors.map((vector, i) => ({ id: `doc-${i}`, vector })))
  const again = [{ id: 'fresh', vector: [1, 2, 3, 4] }, { id: `doc-${n - 1}`, vector: [1, 0, 0, 0] }]
  await expectRejectedAndUnchanged(store.addEmbeddings(again), 'DUPLICATE_ID', /doc-4999/)
})

test('a wrong vector length rejects with DIMENSION_MISMATCH saying expected and got', async () => {
  await expectRejectedAndUnchanged(
    store.addEmbeddings([
      { id: 'ok', vector: [1, 0, 0, 0] },
      { id: 'short', vector: [1, 0, 0] },
    ]),
    'DIMENSION_MISMATCH',
    /items\[1\]\.vector has 3 dimensions.*4-dimensional/,
  )
})

test.each([
  ['NaN', [1, Number.NaN, 0, 0]],
  ['Infinity', [1, Number.POSITIVE_INFINITY, 0, 0]],
  ['-Infinity', new Float32Array([1, 0, Number.NEGATIVE_INFINITY, 0])],
  ['all zeros under cosine', [0, 0, 0, 0]],
  ['a number too large for float32', [1e300, 0, 0, 0]],
])('a vector with %s rejects with INVALID_VECTOR', async (_name, vector) => {
  await expectRejectedAndUnchanged(
    store.addEmbeddings([{ id: 'fine', vector: [1, 0, 0, 0] }, { id: 'bad', vector }]),
    'INVALID_VECTOR',
    /items\[1\]\.vector/,
  )
})

test.each<[string, unknown]>([
  ['an empty id', [{ id: '', vector: [1, 0, 0, 0] }]],
  ['an id over 1024 bytes', [{ id: 'x'.repeat(1025), vector: [1, 0, 0, 0] }]],
  ['a numeric id', [{ id: 7, vector: [1, 0, 0, 0] }]],
  ['a missing vector', [{ id: 'a' }]],
  ['a string vector', [{ id: 'a', vector: 'nope' }]],
  ['array metadata', [{ id: 'a', vector: [1, 0, 0, 0], metadata: [1, 2] }]],
  ['string metadata', [{ id: 'a', vector: [1, 0, 0, 0], metadata: 'meta' }]],
  ['NaN inside metadata', [{ id: 'a', vector: [1, 0, 0, 0], metadata: { x: Number.NaN } }]],
  ['a non-array batch', { id: 'a', vector: [1, 0, 0, 0] }],
  ['a null item', [null]],
])('%s rejects with INVALID_ARGUMENT', async (_name, items) => {
  await expectRejectedAndUnchanged(
    store.addEmbeddings(items as EmbeddingItem[]),
    'INVALID_ARGUMENT',
  )
})

test('a large batch is one atomic commit', async () => {
  const n = 20_000
  const vectors = randomVectors(n, 4, 3)
  const v0 = await store.version()
  const res = await store.addEmbeddings(vectors.map((vector, i) => ({ id: `r${i}`, vector, metadata: { i } })))
  expect(res).toEqual({ added: n, version: v0 + 1 })
  await expect(store.count()).resolves.toBe(n)
})
