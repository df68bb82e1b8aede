// How to test code that uses lancestore: each test opens a `memory://` store (nothing on disk, isolated by
// name, freed when closed) with `await using`, so the store is closed when the test ends — even when an
// expectation throws. Run by `npm test` (jest picks up examples/*.spec.ts); copy it into your own suite.
import { randomUUID } from 'node:crypto'
import { EmbeddingStore } from 'lancestore'

/** A fresh, empty in-memory store per call: a unique name is a separate store. */
const openTestStore = () =>
  EmbeddingStore.open(`memory://test-${randomUUID()}`, { dimension: 3, fields: { topic: 'string' } })

test('finds the nearest document and filters by topic', async () => {
  await using store = await openTestStore()
  await store.addEmbeddings([
    { id: 'apples', vector: [1, 0, 0], metadata: { topic: 'fruit' } },
    { id: 'pears', vector: [0.9, 0.1, 0], metadata: { topic: 'fruit' } },
    { id: 'rust', vector: [0, 0, 1], metadata: { topic: 'code' } },
  ])
  expect((await store.search([1, 0, 0], { limit: 1 }))[0].id).toBe('apples')
  expect((await store.search([0, 0, 1], { limit: 3, filter: { topic: 'fruit' } })).map((h) => h.id).sort()).toEqual(['apples', 'pears'])
})

test('each test starts empty: names isolate stores', async () => {
  await using first = await openTestStore()
  await using second = await openTestStore()
  await first.addEmbeddings([{ id: 'only-here', vector: [1, 0, 0] }])
  expect(await first.count()).toBe(1)
  expect(await second.count()).toBe(0)
})

test('updates, versions and restore work in memory too', async () => {
  await using store = await openTestStore()
  await store.addEmbeddings([{ id: 'a', vector: [1, 0, 0], metadata: { topic: 'draft' } }])
  const before = await store.version()
  await store.updateMetadata(['a'], { topic: 'published' })
  expect((await store.get(['a']))[0]?.metadata).toEqual({ topic: 'published' })
  await store.restore(before)
  expect((await store.get(['a']))[0]?.metadata).toEqual({ topic: 'draft' })
})
