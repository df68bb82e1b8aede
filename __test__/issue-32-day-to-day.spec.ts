// Day-to-day operations: metadata updates without the vector, table versions and restore, listing and
// dropping tables, and `await using` (Symbol.asyncDispose). Real LanceDB in a temp directory.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore } from '../index'
import { tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const fields = { section: 'string', year: 'int', tags: 'string[]' } as const

async function filled(options: Parameters<typeof EmbeddingStore.open>[1] = {}) {
  const store = await EmbeddingStore.open(dir.path, { dimension: 3, fields, ...options })
  await store.addEmbeddings([
    { id: 'a', vector: [1, 0, 0], metadata: { section: 'libs', year: 2020, note: 'first', nested: { x: 1, y: 2 } } },
    { id: 'b', vector: [0, 1, 0], metadata: { section: 'libs', year: 2021 } },
    { id: 'c', vector: [0, 0, 1], metadata: null },
  ])
  return store
}

describe('updateMetadata', () => {
  test.each([
    ['resident copy', undefined],
    ["LanceDB's path", 0],
  ])('patches metadata (RFC 7396) and declared fields without the vector, in one commit (%s)', async (_, residentMemoryMB) => {
    const store = await filled({ performance: { residentMemoryMB } })
    const before = await store.version()
    const cachedBefore = await store.search([1, 0, 0], { filter: { section: 'utils' } })
    expect(cachedBefore).toEqual([])
    const result = await store.updateMetadata(['a', 'c', 'missing', 'a'], { section: 'utils', note: null, nested: { y: null, z: 3 } })
    expect(result).toEqual({ updated: 2, version: before + 1 })
    const [a, b, c] = await store.get(['a', 'b', 'c'])
    expect(a).toMatchObject({ vector: new Float32Array([1, 0, 0]), metadata: { section: 'utils', year: 2020, nested: { x: 1, z: 3 } } })
    expect(a!.metadata).not.toHaveProperty('note')
    expect(b!.metadata).toEqual({ section: 'libs', year: 2021 })
    expect(c!.metadata).toEqual({ section: 'utils', nested: { z: 3 } }) // null metadata is patched from {}
    // Filters and the (never stale) cache see the new values at once.
    expect((await store.search([1, 0, 0], { filter: { section: 'utils' } })).map((h) => h.id).sort()).toEqual(['a', 'c'])
    expect(await store.count({ filter: { section: 'libs' } })).toBe(1)
    await store.close()
  })

  test('bad input rejects with a code and writes nothing', async () => {
    const store = await filled()
    const version = await store.version()
    await expect(store.updateMetadata(['a'], { year: 'soon' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.updateMetadata(['a'], [1] as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.updateMetadata(['a'], null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.updateMetadata('a' as never, {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.updateMetadata([''], { x: 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(await store.updateMetadata(['nope'], { x: 1 })).toEqual({ updated: 0, version })
    expect(await store.version()).toBe(version)
    expect((await store.get(['a']))[0]!.metadata).toMatchObject({ year: 2020 })
    await store.close()
    await expect(store.updateMetadata(['a'], { x: 1 })).rejects.toMatchObject({ code: 'STORE_CLOSED' })
  })
})

describe('versions and restore', () => {
  test('lists kept versions newest first and restores one as a new commit that every reader follows', async () => {
    const store = await filled()
    const good = await store.version()
    await store.addEmbeddings([{ id: 'bad', vector: [1, 0.1, 0] }])
    await store.delete(['a'])
    const listed = await store.versions()
    expect(listed[0].version).toBe(await store.version())
    expect(listed.find((v) => v.version === good)).toMatchObject({ rows: 3 })
    expect(listed.find((v) => v.version === good + 1)).toMatchObject({ rows: 4 })
    for (const v of listed) expect(Math.abs(v.timestamp - Date.now())).toBeLessThan(10 * 60_000)
    expect(await store.versions({ limit: 1 })).toHaveLength(1)

    const reader = await EmbeddingStore.open(dir.path) // another store on the table: its copy follows too
    expect((await reader.search([1, 0, 0], { limit: 1 }))[0].id).toBe('bad')
    const restored = await store.restore(good)
    expect(restored).toBe(listed[0].version + 1)
    expect((await reader.search([1, 0, 0], { limit: 1 }))[0].id).toBe('a')
    expect(await reader.get(['bad'])).toEqual([null])
    expect(await store.count()).toBe(3)
    await reader.close()

    await expect(store.restore(9999)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('not kept') })
    await expect(store.restore(-1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.versions({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(store.versions({ limt: 2 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    // Pruned versions are refused cleanly.
    await store.optimize({ retainVersionsSeconds: 0 })
    await expect(store.restore(good)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await store.close()
  })
})

describe('tables and dropTable', () => {
  test('lists the tables of a directory and drops one with its files', async () => {
    expect(await EmbeddingStore.tables(join(dir.path, 'nowhere'))).toEqual([])
    expect(existsSync(join(dir.path, 'nowhere'))).toBe(false)
    for (const table of ['notes', 'docs']) {
      const store = await EmbeddingStore.open(dir.path, { dimension: 2, table })
      await store.addEmbeddings([{ id: 'x', vector: [1, 0] }])
      await store.createIndex({ kind: 'hnsw' })
      if (table === 'docs') {
        await expect(EmbeddingStore.dropTable(dir.path, 'docs')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('close') })
      }
      await store.close()
    }
    expect(await EmbeddingStore.tables(dir.path)).toEqual(['docs', 'notes'])
    expect(readdirSync(dir.path).filter((f) => f.includes('docs')).length).toBeGreaterThanOrEqual(3)
    expect(await EmbeddingStore.dropTable(dir.path, 'docs')).toBe(true)
    expect(readdirSync(dir.path).filter((f) => f.includes('docs'))).toEqual([])
    expect(await EmbeddingStore.tables(dir.path)).toEqual(['notes'])
    expect(await EmbeddingStore.dropTable(dir.path, 'docs')).toBe(false)
    await expect(EmbeddingStore.dropTable(dir.path, '../etc')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(EmbeddingStore.tables(dir.path, { storage: { nope: 1 } } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(EmbeddingStore.tables(42 as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    const notes = await EmbeddingStore.open(dir.path, { table: 'notes' })
    expect(await notes.count()).toBe(1)
    await notes.close()
  })
})

describe('Symbol.asyncDispose', () => {
  test('closes the store when the scope ends, however it ends; closing twice is a no-op', async () => {
    let escaped: EmbeddingStore | undefined
    await expect(
      (async () => {
        const store = await EmbeddingStore.open(dir.path, { dimension: 2 })
        escaped = store
        try {
          await store.addEmbeddings([{ id: 'x', vector: [1, 0] }])
          throw new Error('the test body failed')
        } finally {
          await store[Symbol.asyncDispose]() // what `await using` runs on the way out
        }
      })(),
    ).rejects.toThrow('the test body failed')
    expect(escaped!.closed).toBe(true)
    await expect(escaped![Symbol.asyncDispose]()).resolves.toBeUndefined()
    await expect(escaped!.search([1, 0])).rejects.toMatchObject({ code: 'STORE_CLOSED' })
  })
})

describe('memory:// stores', () => {
  test('shared by name within the process, isolated across names, freed with the last store, nothing on disk', async () => {
    const { readdirSync: list } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const before = { cwd: list(process.cwd()).sort(), tmp: list(tmpdir()).filter((f) => !f.startsWith('jest')).sort() }
    const name = `memory://issue-32-${process.pid}`
    const store = await EmbeddingStore.open(name, { dimension: 4, fields: { topic: 'string' } })
    const again = await EmbeddingStore.open(name)
    const other = await EmbeddingStore.open(`${name}-other`, { dimension: 4 })
    const vectors = Array.from({ length: 2_500 }, (_, i) => [Math.sin(i), Math.cos(i), Math.sin(i / 7), Math.cos(i / 3)])
    await store.addEmbeddings(vectors.map((vector, i) => ({ id: `v${i}`, vector, metadata: { topic: i % 2 ? 'odd' : 'even' } })))
    expect(await again.count()).toBe(2_500)
    expect(await other.count()).toBe(0)
    expect(again.path).toBe(name)
    const report = await store.createIndex({ kind: 'hnsw' })
    expect(report.kind).toBe('hnsw')
    const hits = await again.search(vectors[10], { limit: 3, filter: { topic: 'even' } })
    expect(hits[0].id).toBe('v10')
    expect(await EmbeddingStore.tables(name)).toEqual(['embeddings'])
    await expect(EmbeddingStore.open(name, { dimension: 4, storage: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await store.close()
    expect(await again.count()).toBe(2_500) // alive while a store holds it
    await again.close()
    await other.close()
    await expect(EmbeddingStore.open(name)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' }) // freed: no table, no dimension
    const after = { cwd: list(process.cwd()).sort(), tmp: list(tmpdir()).filter((f) => !f.startsWith('jest')).sort() }
    expect(after.cwd).toEqual(before.cwd)
    expect(after.tmp.filter((f) => !before.tmp.includes(f) && !f.startsWith('lancestore-'))).toEqual([])
  })
})

describe('scan', () => {
  test('iterates every row once in bounded batches, filtered, as a snapshot; bad options reject with codes', async () => {
    const store = await EmbeddingStore.open(dir.path, { dimension: 2, fields: { kind: 'string' } })
    const n = 2_345
    await store.addEmbeddings(
      Array.from({ length: n }, (_, i) => ({ id: `r${i}`, vector: [i, 1], metadata: { kind: i % 5 === 0 ? 'five' : 'other', i } })),
    )
    const seen = new Map<string, { vector: Float32Array; metadata: unknown }>()
    let added = false
    for await (const row of store.scan({ batchSize: 100 })) {
      if (!added) {
        await store.addEmbeddings([{ id: 'late', vector: [0, 1] }]) // a snapshot: not seen by this scan
        added = true
      }
      expect(seen.has(row.id)).toBe(false)
      seen.set(row.id, row)
    }
    expect(seen.size).toBe(n)
    expect(seen.get('r42')).toEqual({ id: 'r42', vector: new Float32Array([42, 1]), metadata: { kind: 'other', i: 42 } })
    let fives = 0
    for await (const row of store.scan({ filter: { kind: 'five' } })) {
      expect((row.metadata as { kind: string }).kind).toBe('five')
      fives++
    }
    expect(fives).toBe(469)
    // Stopping early is fine (the iterator's return), and a full scan sees the late row.
    for await (const row of store.scan()) {
      expect(row.id).toBeDefined()
      break
    }
    let all = 0
    for await (const _ of store.scan({ batchSize: 100_000 })) all++
    expect(all).toBe(n + 1)
    const first = (options: unknown) => store.scan(options as never).next()
    await expect(first({ batchSize: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(first({ batchSize: 100_001 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(first({ filter: { kind: undefined } })).rejects.toMatchObject({ code: 'INVALID_FILTER' })
    await expect(first({ filter: { undeclared: 1 } })).rejects.toMatchObject({ code: 'INVALID_FILTER' })
    await expect(first({ batchsize: 5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    const open = store.scan({ batchSize: 10 })
    await open.next()
    await store.close()
    for (let i = 0; i < 9; i++) await open.next() // the rest of the batch already read
    await expect(open.next()).rejects.toMatchObject({ code: 'STORE_CLOSED' }) // nothing more is read
  })
})

describe('lancestore export', () => {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process')
  const cli = join(__dirname, '..', 'bin', 'lancestore.js')
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })

  test.each(['jsonl', 'npy', 'parquet'])('import → export (%s) → import gives equal rows', async (format) => {
    const source = join(dir.path, 'source')
    const store = await EmbeddingStore.open(source, { dimension: 4, fields: { kind: 'string' } })
    const items = Array.from({ length: 1_234 }, (_, i) => ({
      id: i % 7 === 0 ? `quo"te\\${i} ✓` : `r${i}`,
      vector: new Float32Array([i, -i / 3, Math.fround(1 / (i + 1)), 1e-30]),
      metadata: i % 5 === 0 ? null : { kind: i % 2 ? 'odd' : 'even', i, nested: { list: [i, 'x'] } },
    }))
    await store.addEmbeddings(items)
    await store.close()
    const file = join(dir.path, `out.${format}`)
    const exported = run('export', source, file, '--json', '--batch-size', '100')
    expect(exported.stderr.split('\n').filter((l) => /error/i.test(l))).toEqual([])
    expect(exported.status).toBe(0)
    expect(JSON.parse(exported.stdout).rows).toBe(1_234)
    const target = join(dir.path, 'target')
    const args = ['import', target, file, '--dimension', '4', '--fields', 'kind:string', '--json']
    if (format === 'npy') args.push('--ids', join(dir.path, 'out.ids.jsonl'))
    const imported = run(...args)
    expect(imported.status).toBe(0)
    expect(JSON.parse(imported.stdout).added).toBe(1_234)
    const copy = await EmbeddingStore.open(target)
    const got = await copy.get(items.map((item) => item.id))
    got.forEach((row, i) => {
      expect(row!.vector).toEqual(items[i].vector)
      expect(row!.metadata).toEqual(items[i].metadata)
    })
    expect(await copy.count({ filter: { kind: 'odd' } })).toBe(items.filter((item) => item.metadata?.kind === 'odd').length)
    await copy.close()

    // A filter exports only what it matches; a bad format or filter is an error with a code or usage exit.
    const some = run('export', source, join(dir.path, `some.${format}`), '--filter', '{"kind":"even"}', '--json')
    expect(JSON.parse(some.stdout).rows).toBe(items.filter((item) => item.metadata?.kind === 'even').length)
    expect(run('export', source, join(dir.path, 'x.csv')).status).toBe(1)
    const bad = run('export', source, join(dir.path, `bad.${format}`), '--filter', '{"nope":1}')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('INVALID_FILTER')
    expect(run('export', join(dir.path, 'missing'), file).status).toBe(1)
  })
})
