// Full-text and hybrid search (issue 31): `'text'` fields indexed for BM25, `searchText`, hybrid `search`
// with `text` fused by reciprocal rank, filters on both sides, rows written after the index, coded errors.
// Real LanceDB in a temp directory, real sentence embeddings from the committed MiniLM sample.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore, type ErrorCode, type SearchHit } from '../index'
import { randomVectors, sample, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const data = sample()
const fields = { text: 'text', section: 'string' } as const
const N = 600

async function filled(options: Parameters<typeof EmbeddingStore.open>[1] = {}) {
  const store = await EmbeddingStore.open(dir.path, { dimension: data.dim, fields, ...options })
  await store.addEmbeddings(
    Array.from({ length: N }, (_, i) => ({
      id: `r${i}`,
      vector: data.row(i),
      metadata: { text: data.rows[i].text, section: data.rows[i].section, key: data.rows[i].key },
    })),
  )
  return store
}

/** Two rare words of row `i`'s text (longest first), so a words search has a clear answer. */
function wordsOf(i: number): string {
  const words = data.rows[i].text.toLowerCase().match(/[a-z]{6,}/g) ?? []
  const counts = new Map<string, number>()
  for (let r = 0; r < N; r++) for (const w of new Set(data.rows[r].text.toLowerCase().match(/[a-z]{6,}/g) ?? [])) counts.set(w, (counts.get(w) ?? 0) + 1)
  return [...new Set(words)].sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0)).slice(0, 2).join(' ')
}

const invalid: ErrorCode = 'INVALID_ARGUMENT'

describe('searchText', () => {
  test('finds rows by their words (BM25, best first) and answers TextHit objects', async () => {
    const store = await filled()
    const words = wordsOf(7)
    const hits = await store.searchText(words, { limit: 5 })
    expect(hits[0].id).toBe('r7')
    expect(Object.keys(hits[0]).sort()).toEqual(['id', 'metadata', 'score'])
    expect(hits[0].metadata).toMatchObject({ key: data.rows[7].key })
    for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score)
    // threshold: a minimum BM25 score
    const cut = await store.searchText(words, { limit: 5, threshold: hits[0].score })
    expect(cut.map((h) => h.id)).toEqual(hits.filter((h) => h.score >= hits[0].score).map((h) => h.id))
    await store.close()
  })

  test('stems and drops stop words (English by default), and keeps the field type across reopening', async () => {
    let store = await EmbeddingStore.open(dir.path, { dimension: 3, fields: { body: 'text', title: 'text:french' } })
    await store.addEmbeddings([
      { id: 'en', vector: [1, 0, 0], metadata: { body: 'The runner was running quickly', title: 'x' } },
      { id: 'fr', vector: [0, 1, 0], metadata: { body: 'avec', title: 'Des maisons avec jardin' } },
      { id: 'none', vector: [0, 0, 1], metadata: { body: 'the and of' } },
    ])
    expect((await store.searchText('runs', { textField: 'body' })).map((h) => h.id)).toEqual(['en'])
    expect(await store.searchText('the', { textField: 'body' })).toEqual([]) // a stop word only
    await store.close()
    store = await EmbeddingStore.open(dir.path)
    expect((await store.searchText('maison', { textField: 'title' })).map((h) => h.id)).toEqual(['fr'])
    expect(await store.searchText('avec', { textField: 'title' })).toEqual([]) // a French stop word
    expect((await store.searchText('avec', { textField: 'body' })).map((h) => h.id)).toEqual(['fr']) // not an English one
    const stats = await store.stats()
    expect(stats.text.map((t) => [t.field, t.language, t.indexed])).toEqual([
      ['body', 'English', true],
      ['title', 'French', true],
    ])
    await store.close()
  })

  test('filters apply before the top-k; text fields filter like strings', async () => {
    const store = await filled()
    const section = data.rows[7].section
    const hits = await store.searchText('library data files', { limit: 50, filter: { section } })
    expect(hits.length).toBeGreaterThan(0)
    for (const hit of hits) expect(hit.metadata).toMatchObject({ section })
    const exact = await store.search(data.row(7), { filter: { text: data.rows[7].text }, limit: 3 })
    expect(exact.map((h) => h.id)).toEqual(['r7'])
    await store.close()
  })

  test('with autoIndex (the default) the index is built in the background after writes', async () => {
    const store = await filled()
    let stats = await store.stats()
    for (let i = 0; i < 300 && !stats.text[0].indexed; i++) {
      await new Promise((r) => setTimeout(r, 100))
      stats = await store.stats()
    }
    expect(stats.text[0]).toMatchObject({ indexed: true, unindexedRows: 0 })
    const version = await store.version()
    expect((await store.searchText(wordsOf(5)))[0].id).toBe('r5')
    expect(await store.version()).toBe(version) // no build on the search path
    await store.close()
  })

  test('rows written after the index are found at once; optimize() folds them in; deleted rows are gone', async () => {
    // autoIndex off: the first text search builds the index.
    const store = await filled({ autoIndex: false, performance: { autoOptimizeEvery: 0 } })
    expect((await store.stats()).text).toEqual([{ field: 'text', language: 'English', indexed: false, unindexedRows: N, inMemory: false }])
    await store.searchText('library') // builds the index: a commit the resident copy follows at once
    const built = await store.stats()
    expect(built.text[0]).toMatchObject({ indexed: true, unindexedRows: 0 })
    expect(built.resident).toMatchObject({ state: 'ready', version: built.version })
    for (let i = 0; i < 5; i++) {
      await store.addEmbeddings([{ id: `new${i}`, vector: randomVectors(1, data.dim, i)[0], metadata: { text: `quokkafish number${i}` } }])
      const hits = await store.searchText(`quokkafish number${i}`)
      expect(hits[0].id).toBe(`new${i}`)
      expect(hits.map((h) => h.id).sort()).toEqual(Array.from({ length: i + 1 }, (_, j) => `new${j}`))
    }
    expect((await store.stats()).text[0]).toMatchObject({ indexed: true, unindexedRows: 5 })
    await store.optimize()
    expect((await store.stats()).text[0]).toMatchObject({ indexed: true, unindexedRows: 0 })
    await store.delete(['new2'])
    expect((await store.searchText('quokkafish')).map((h) => h.id).sort()).toEqual(['new0', 'new1', 'new3', 'new4'])
    await store.close()
  })

  test('the resident copy answers words from memory once its word index is built, as LanceDB does', async () => {
    const store = await filled({ performance: { enableQueryCache: false, autoOptimizeEvery: 0 } })
    const throughLance = await EmbeddingStore.open(dir.path, { performance: { enableQueryCache: false, residentMemoryMB: 0 } })
    expect((await store.stats()).text[0].inMemory).toBe(false)
    await store.searchText('library') // LanceDB answers this one and the word index is built meanwhile
    for (let i = 0; i < 500 && !(await store.stats()).text[0].inMemory; i++) await new Promise((r) => setTimeout(r, 10))
    expect((await store.stats()).text[0].inMemory).toBe(true)
    for (const [words, filter] of [
      [wordsOf(21), undefined],
      ['library for python', undefined],
      ['library for python', { section: 'libs' }],
    ] as const) {
      const memory = await store.searchText(words, { limit: 10, filter })
      const lance = await throughLance.searchText(words, { limit: 10, filter })
      expect(memory.length).toBe(lance.length)
      memory.forEach((hit, i) => expect(hit.score).toBeCloseTo(lance[i].score, 4))
      // The same rows at each score, but at the lowest one: a tie cut by the limit may keep other rows.
      const lowest = memory.length ? memory[memory.length - 1].score.toFixed(3) : ''
      const at = (hits: typeof memory) =>
        hits.filter((h) => h.score.toFixed(3) !== lowest).map((h) => `${h.score.toFixed(3)} ${h.id}`).sort()
      expect(at(memory)).toEqual(at(lance))
    }
    // New and deleted rows are followed at once, and hybrid searches use the same index.
    await store.addEmbeddings([{ id: 'fresh', vector: data.row(3), metadata: { text: 'wombatfish library' } }])
    await store.delete(['r21'])
    expect((await store.searchText('wombatfish'))[0].id).toBe('fresh')
    expect((await store.searchText(wordsOf(21), { limit: 600 })).map((h) => h.id)).not.toContain('r21')
    expect((await store.search(data.row(3), { text: 'wombatfish', limit: 3 }))[0]).toMatchObject({ id: 'fresh', textRank: 1 })
    expect((await store.stats()).text[0].inMemory).toBe(true)
    await throughLance.close()
    await store.close()
  })

  test('an empty store answers no hits', async () => {
    const store = await EmbeddingStore.open(dir.path, { dimension: 3, fields: { body: 'text' } })
    expect(await store.searchText('anything')).toEqual([])
    expect(await store.search([1, 0, 0], { text: 'anything' })).toEqual([])
    await store.close()
  })
})

describe('hybrid search', () => {
  function checkFused(hits: SearchHit[], k = 60) {
    for (const hit of hits) {
      const expected = (hit.vectorRank ? 1 / (k + hit.vectorRank) : 0) + (hit.textRank ? 1 / (k + hit.textRank) : 0)
      expect(hit.score).toBeCloseTo(expected, 12)
      expect(Number.isFinite(hit.distance)).toBe(true)
      expect(hit.vectorScore).toBeCloseTo(1 - hit.distance, 6)
    }
    for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score)
  }

  test.each([
    ['resident copy', undefined],
    ["LanceDB's path", 0],
  ])('fuses the vector and the words by reciprocal rank (%s)', async (_, residentMemoryMB) => {
    const store = await filled({ performance: { residentMemoryMB } })
    const words = wordsOf(11)
    const hits = await store.search(data.query(0), { text: words, limit: 10 })
    expect(hits.length).toBe(10)
    checkFused(hits)
    const vectorOnly = await store.search(data.query(0), { limit: 20 })
    const textOnly = await store.searchText(words, { limit: 20 })
    for (const hit of hits) {
      if (hit.vectorRank !== null) expect(vectorOnly[hit.vectorRank! - 1].id).toBe(hit.id)
      if (hit.textRank !== null) {
        expect(textOnly[hit.textRank! - 1].id).toBe(hit.id)
        expect(hit.textScore).toBeCloseTo(textOnly[hit.textRank! - 1].score, 4)
      }
    }
    // r11 only the words find (the query vector is another text's): it still makes the top, with its exact distance.
    const r11 = hits.find((h) => h.id === 'r11')!
    expect(r11).toMatchObject({ textRank: 1 })
    const [exact] = await store.search(data.query(0), { filter: { text: data.rows[11].text }, exact: true, limit: 1 })
    expect(r11.distance).toBeCloseTo(exact.distance, 5)
    // a row both sides rank first comes first
    const both = await store.search(data.row(11), { text: words, limit: 5 })
    expect(both[0]).toMatchObject({ id: 'r11', vectorRank: 1, textRank: 1 })
    await store.close()
  })

  test('rrfK, threshold and filters: stated semantics', async () => {
    const store = await filled()
    const words = wordsOf(11)
    const k1 = await store.search(data.query(0), { text: words, rrfK: 1, limit: 10 })
    checkFused(k1, 1)
    const threshold = 0.3
    const cut = await store.search(data.query(0), { text: words, threshold, limit: 10 })
    for (const hit of cut) expect(hit.vectorScore).toBeGreaterThanOrEqual(threshold)
    const section = data.rows[11].section
    const filtered = await store.search(data.query(0), { text: words, filter: { section }, limit: 10 })
    for (const hit of filtered) expect(hit.metadata).toMatchObject({ section })
    expect(filtered.some((h) => h.id === 'r11')).toBe(true)
    // cached like any search
    const before = (await store.stats()).cache.hits
    expect(await store.search(data.query(0), { text: words, filter: { section }, limit: 10 })).toEqual(filtered)
    expect((await store.stats()).cache.hits).toBe(before + 1)
    await store.close()
  })

  test('bad input is rejected with a code and leaves the store usable', async () => {
    const store = await filled()
    const q = data.query(0)
    const cases: Array<[Promise<unknown>, ErrorCode]> = [
      [store.searchText(''), invalid],
      [store.searchText('   '), invalid],
      [store.searchText('x'.repeat(5000)), invalid],
      [store.searchText(42 as unknown as string), invalid],
      [store.searchText('x', { textField: 'section' }), invalid],
      [store.searchText('x', { textField: 'nope' }), invalid],
      [store.searchText('x', { limit: 0 }), invalid],
      [store.searchText('x', { rrfK: 3 } as never), invalid],
      [store.searchText('x', { filter: { nope: 1 } }), 'INVALID_FILTER'],
      [store.search(q, { text: '' }), invalid],
      [store.search(q, { textField: 'text' }), invalid],
      [store.search(q, { text: 'x', rrfK: -1 }), invalid],
      [store.search(q, { text: 'x', rrfK: 1.5 }), invalid],
      [store.search(q.subarray(0, 3), { text: 'x' }), 'DIMENSION_MISMATCH'],
    ]
    for (const [call, code] of cases) await expect(call).rejects.toMatchObject({ code })
    const plain = await EmbeddingStore.open(join(dir.path, 'plain'), { dimension: 3 })
    await plain.addEmbeddings([{ id: 'a', vector: [1, 0, 0], metadata: { text: 'hello' } }])
    await expect(plain.searchText('hello')).rejects.toMatchObject({ code: invalid })
    await expect(plain.search([1, 0, 0], { text: 'hello' })).rejects.toMatchObject({ code: invalid })
    await plain.close()
    expect((await store.searchText(wordsOf(3)))[0].id).toBe('r3')
    await store.close()
  })

  test('importFile fills a text field from a file column', async () => {
    const file = join(dir.path, 'rows.jsonl')
    writeFileSync(
      file,
      Array.from({ length: 50 }, (_, i) =>
        JSON.stringify({ id: `f${i}`, vector: Array.from(data.row(i)), body: data.rows[i].text, section: data.rows[i].section }),
      ).join('\n'),
    )
    const store = await EmbeddingStore.open(join(dir.path, 'store'), { dimension: data.dim, fields: { body: 'text' } })
    await store.importFile(file, { metadataFields: ['body', 'section'] })
    const hits = await store.searchText(data.rows[4].text, { limit: 1 })
    expect(hits[0].id).toBe('f4')
    await store.close()
  })
})

describe('the lancestore CLI', () => {
  const cli = join(__dirname, '..', 'bin', 'lancestore.js')
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 })

  test('import --fields body:text, then search --text (words), --vector --text (hybrid), and usage errors', () => {
    const file = join(dir.path, 'rows.jsonl')
    writeFileSync(
      file,
      Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: `c${i}`, vector: Array.from(data.row(i)), body: data.rows[i].text })).join('\n'),
    )
    const store = join(dir.path, 'store')
    expect(run('import', store, file, '--dimension', String(data.dim), '--fields', 'body:text', '--json').status).toBe(0)
    let r = run('search', store, '--text', wordsOfFirst(40, 9), '--limit', '3', '--json')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)[0].id).toBe('c9')
    const query = join(dir.path, 'query.json')
    writeFileSync(query, JSON.stringify(Array.from(data.row(9))))
    r = run('search', store, '--vector', query, '--text', wordsOfFirst(40, 9), '--limit', '3', '--json')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ id: 'c9', vectorRank: 1, textRank: 1 })
    r = run('search', store, '--limit', '3')
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/--vector, --text, or both/)
    r = run('search', store, '--text', '   ')
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/INVALID_ARGUMENT/)
  })
})

/** The two rarest long words of row `i` among the first `n` rows. */
function wordsOfFirst(n: number, i: number): string {
  const of = (r: number) => new Set(data.rows[r].text.toLowerCase().match(/[a-z]{6,}/g) ?? [])
  const counts = new Map<string, number>()
  for (let r = 0; r < n; r++) for (const w of of(r)) counts.set(w, (counts.get(w) ?? 0) + 1)
  return [...of(i)].sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0)).slice(0, 2).join(' ')
}
