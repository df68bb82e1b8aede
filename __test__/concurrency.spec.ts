// Many calls at once: concurrent searches interleaved with writes, all answered correctly,
// with the JS event loop free while they run.
import { EmbeddingStore } from '../index'
import { bruteForce, randomVectors, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

test('200 concurrent searches with writes in between all resolve with correct answers', async () => {
  const dim = 32
  const store = await EmbeddingStore.open(dir.path, { dimension: dim })
  const vectors = randomVectors(2_000, dim, 5)
  await store.addEmbeddings(vectors.slice(0, 1_000).map((vector, i) => ({ id: `v${i}`, vector })))

  const searches: Array<Promise<{ q: number; ids: string[] }>> = []
  const writes: Array<Promise<unknown>> = []
  for (let q = 0; q < 200; q++) {
    // Each query is a stored vector from the first 1,000, so its own row is always its nearest
    // neighbour whatever the concurrent writes have added by the time it runs.
    searches.push(store.search(vectors[q * 5], { limit: 5 }).then((hits) => ({ q, ids: hits.map((h) => h.id) })))
    if (q % 20 === 0) {
      const start = 1_000 + (q / 20) * 100
      writes.push(store.addEmbeddings(vectors.slice(start, start + 100).map((vector, i) => ({ id: `v${start + i}`, vector }))))
    }
  }
  const results = await Promise.all(searches)
  await Promise.all(writes)
  for (const { q, ids } of results) {
    expect(ids).toHaveLength(5)
    expect(ids[0]).toBe(`v${q * 5}`)
  }
  await expect(store.count()).resolves.toBe(2_000)
  // After the writes, answers match brute force over everything stored.
  const query = randomVectors(1, dim, 99)[0]
  const hits = await store.search(query, { limit: 10 })
  expect(hits.map((h) => h.id)).toEqual(bruteForce('cosine', query, vectors, 10).map((t) => `v${t.i}`))
  await store.close()
})

test('search and add return a pending Promise at once: the event loop keeps running', async () => {
  const dim = 64
  const store = await EmbeddingStore.open(dir.path, { dimension: dim })
  const vectors = randomVectors(5_000, dim, 8)
  let ticks = 0
  const timer = setInterval(() => ticks++, 0)
  const pending = store.addEmbeddings(vectors.map((vector, i) => ({ id: `${i}`, vector })))
  const searches = Array.from({ length: 50 }, (_, i) => store.search(vectors[i]))
  let settled = false
  void Promise.all([pending, ...searches]).then(() => (settled = true))
  expect(settled).toBe(false) // nothing ran on the JS thread synchronously
  await Promise.all([pending, ...searches])
  clearInterval(timer)
  expect(ticks).toBeGreaterThan(0) // timers fired while the native work ran
  await store.close()
})

test('closing while calls are in flight lets them finish, then rejects new ones', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 16 })
  const vectors = randomVectors(500, 16, 4)
  await store.addEmbeddings(vectors.map((vector, i) => ({ id: `${i}`, vector })))
  const inFlight = Array.from({ length: 20 }, (_, i) => store.search(vectors[i], { limit: 1 }))
  const closing = store.close()
  const outcomes = await Promise.allSettled(inFlight)
  await closing
  for (const outcome of outcomes) {
    // Each call either ran before close (right answer) or after it (STORE_CLOSED); nothing else.
    if (outcome.status === 'fulfilled') expect(outcome.value).toHaveLength(1)
    else expect(outcome.reason).toMatchObject({ code: 'STORE_CLOSED' })
  }
  await expect(store.search(vectors[0])).rejects.toMatchObject({ code: 'STORE_CLOSED' })
})
