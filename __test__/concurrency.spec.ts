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

test('the event loop keeps ticking while 100k-row exact searches run', async () => {
  const dim = 64
  const store = await EmbeddingStore.open(dir.path, { dimension: dim, autoIndex: false, performance: { enableQueryCache: false } })
  const vectors = randomVectors(100_000, dim, 8)
  for (let from = 0; from < vectors.length; from += 25_000) {
    await store.addEmbeddings(vectors.slice(from, from + 25_000).map((vector, i) => ({ id: `${from + i}`, vector })))
  }
  const queries = randomVectors(8, dim, 9)
  // A 1 ms timer records when it fires; the native work must leave the thread free for it.
  const fired: number[] = []
  const timer = setInterval(() => fired.push(performance.now()), 1)
  const started = performance.now()
  let rounds = 0
  // Enough rounds of 8 concurrent exact searches that the native work spans at least 400 ms.
  while (performance.now() - started < 400) {
    const pending = queries.map((q) => store.search(q, { exact: true, limit: 10 }))
    const results = await Promise.all(pending)
    expect(results.every((hits) => hits.length === 10)).toBe(true)
    rounds++
  }
  const elapsed = performance.now() - started
  clearInterval(timer)
  const gaps = fired.slice(1).map((t, i) => t - fired[i])
  const longest = Math.max(...gaps)
  // Were the searches run on the JS thread, the timer could not fire during them: a handful of ticks,
  // with gaps as long as a whole round. Off the thread it fires every few milliseconds.
  expect(rounds).toBeGreaterThan(0)
  // At least one tick per 20 ms on average; the longest pause allows for a GC or a busy shared machine.
  expect(fired.length).toBeGreaterThan(elapsed / 20)
  expect(longest).toBeLessThan(Math.max(250, elapsed / 4))
  await store.close()
})

test('close() lets calls accepted before it finish, resolves after them, then rejects new ones', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: 16 })
  const vectors = randomVectors(500, 16, 4)
  await store.addEmbeddings(vectors.map((vector, i) => ({ id: `${i}`, vector })))
  const order: string[] = []
  const searches = Array.from({ length: 20 }, (_, i) =>
    store.search(vectors[i], { limit: 1 }).then((hits) => {
      order.push('search')
      return hits
    }),
  )
  const write = store.addEmbeddings([{ id: 'late', vector: randomVectors(1, 16, 77)[0] }]).then((r) => {
    order.push('write')
    return r
  })
  const closing = store.close().then(() => order.push('close'))
  const hits = await Promise.all(searches)
  await write
  await closing
  hits.forEach((h, i) => expect(h.map((x) => x.id)).toEqual([`${i}`]))
  expect(order[order.length - 1]).toBe('close')
  expect(order).toHaveLength(22)
  await expect(store.search(vectors[0])).rejects.toMatchObject({ code: 'STORE_CLOSED' })
  const again = await EmbeddingStore.open(dir.path)
  await expect(again.count()).resolves.toBe(501)
  await again.close()
})
