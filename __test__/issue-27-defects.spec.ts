// Issue 27: defects found on review and by trying it. Each test fails on the code before its fix.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EmbeddingStore, type ErrorCode } from '../index'
import { randomVectors, tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const INVALID_FILTER: ErrorCode = 'INVALID_FILTER'
const INVALID_ARGUMENT: ErrorCode = 'INVALID_ARGUMENT'

/** Two tenants' rows, with `tenant` and `tags` declared so filters can use them. */
async function twoTenants(resident: boolean) {
  const store = await EmbeddingStore.open(dir.path, {
    dimension: 4,
    fields: { tenant: 'string', tags: 'string[]', year: 'int' },
    ...(resident ? {} : { performance: { residentMemoryMB: 0 } }),
  })
  const [a, b] = randomVectors(2, 4, 7)
  await store.addEmbeddings([
    { id: 'a', vector: a, metadata: { tenant: 'acme', tags: ['x'], year: 2020 } },
    { id: 'b', vector: b, metadata: { tenant: 'globex', tags: ['y'], year: 2021 } },
  ])
  return { store, query: a }
}

describe('1. a filter value JSON cannot hold is refused, never dropped with its condition', () => {
  // Each of these became `{}` (or lost a list entry / operator) and matched every row.
  const bad: Array<[string, () => Record<string, unknown>, string]> = [
    ['undefined', () => ({ tenant: undefined }), 'tenant'],
    ['a symbol', () => ({ tenant: Symbol('t') }), 'tenant'],
    ['a function', () => ({ tenant: () => 'acme' }), 'tenant'],
    ['a BigInt', () => ({ year: 2020n }), 'year'],
    ['undefined in $in', () => ({ tenant: { $in: ['acme', undefined] } }), 'tenant.$in[1]'],
    ['undefined in $nin', () => ({ tenant: { $nin: [undefined] } }), 'tenant.$nin[0]'],
    ['undefined under $eq', () => ({ tenant: { $eq: undefined } }), 'tenant.$eq'],
    ['undefined under $ne', () => ({ tenant: { $ne: undefined } }), 'tenant.$ne'],
    ['undefined in $or', () => ({ $or: [{ tenant: undefined }, { tenant: 'acme' }] }), '$or[0].tenant'],
    ['undefined under $not', () => ({ $not: { tenant: undefined } }), '$not.tenant'],
    ['undefined in $and', () => ({ $and: [{ year: { $gte: 2000 } }, { tenant: undefined }] }), '$and[1].tenant'],
    ['a RegExp', () => ({ tenant: /acme/ }), 'tenant'],
    ['a Map', () => ({ tenant: new Map([['$eq', 'acme']]) }), 'tenant'],
    ['a symbol key', () => ({ [Symbol('tenant')]: 'acme' }), '(the filter)'],
    ['NaN', () => ({ year: Number.NaN }), 'year'],
  ]

  for (const resident of [true, false]) {
    const where = resident ? 'resident copy' : 'LanceDB path'
    test.each(bad)(`%s (${where}): search, count and delete reject INVALID_FILTER naming the field`, async (_, make, path) => {
      const { store, query } = await twoTenants(resident)
      const named = expect.objectContaining({ code: INVALID_FILTER, message: expect.stringContaining(`\`${path}\``) })
      await expect(store.search(query, { filter: make() })).rejects.toEqual(named)
      await expect(store.count({ filter: make() })).rejects.toEqual(named)
      await expect(store.delete({ filter: make() })).rejects.toEqual(named)
      // Nothing was deleted, and a good filter still works.
      await expect(store.count()).resolves.toBe(2)
      await expect(store.count({ filter: { tenant: 'acme' } })).resolves.toBe(1)
      await store.close()
    })
  }

  test('values JSON holds are still accepted: null, Dates via toJSON, class instances, Proxies of objects', async () => {
    const { store, query } = await twoTenants(true)
    await expect(store.count({ filter: { year: null } })).resolves.toBe(0)
    await expect(store.count({ filter: new Proxy({ tenant: 'acme' }, {}) })).resolves.toBe(1)
    class ByTenant {
      constructor(readonly tenant: string) {}
    }
    await expect(store.count({ filter: { ...new ByTenant('globex') } })).resolves.toBe(1)
    await expect(store.count({ filter: new ByTenant('globex') as unknown as Record<string, unknown> })).resolves.toBe(1)
    await expect(store.count({ filter: { tenant: { toJSON: () => 'acme' } } })).resolves.toBe(1)
    await expect(store.search(query, { filter: { tenant: { $in: ['acme', 'globex'] } } })).resolves.toHaveLength(2)
    // Metadata keeps JSON.stringify's rules: an undefined property is simply absent.
    await store.addEmbeddings([{ id: 'c', vector: query, metadata: { tenant: 'acme', note: undefined } }])
    await expect(store.get(['c'])).resolves.toEqual([expect.objectContaining({ metadata: { tenant: 'acme' } })])
    await store.close()
  })
})

describe('1. an array, or a Proxy of one, where an options object is expected is refused', () => {
  const arrays: Array<[string, () => unknown]> = [
    ['an array', () => []],
    ['a Proxy of an array', () => new Proxy([], {})],
  ]
  test.each(arrays)('%s', async (_, make) => {
    const { store, query } = await twoTenants(true)
    const refused = expect.objectContaining({ code: INVALID_ARGUMENT, message: expect.stringContaining('array') })
    const options = make as () => never
    await expect(store.createIndex(options())).rejects.toEqual(refused)
    await expect(store.search(query, options())).rejects.toEqual(refused)
    await expect(store.count(options())).rejects.toEqual(refused)
    await expect(store.optimize(options())).rejects.toEqual(refused)
    await expect(EmbeddingStore.open(dir.path, options())).rejects.toEqual(refused)
    await store.close()
  })
})

describe('7. the loader says what failed', () => {
  /** `require('lancestore')` in a fresh Node process with `NAPI_RS_NATIVE_LIBRARY_PATH` set to `binary`. */
  function load(binary: string): { code?: string; message: string } {
    const entry = join(__dirname, '..', 'index.js')
    const script = `try { require(${JSON.stringify(entry)}); console.log('{}') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
    const run = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: binary },
      encoding: 'utf8',
    })
    return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}')
  }

  test('a damaged binary is ERR_LANCESTORE_LOAD_FAILED quoting the system loader, not "not installed"', () => {
    const damaged = join(dir.path, 'lancestore.linux-x64-gnu.node')
    writeFileSync(damaged, 'this is not a shared library\n')
    const result = load(damaged)
    expect(result.code).toBe('ERR_LANCESTORE_LOAD_FAILED')
    expect(result.message).toContain('found but failed to load')
    expect(result.message).toContain(damaged)
    expect(result.message).not.toContain('was not installed')
  })

  test('a missing binary is still ERR_LANCESTORE_NO_BINARY', () => {
    const result = load(join(dir.path, 'missing.node'))
    expect(result.code).toBe('ERR_LANCESTORE_NO_BINARY')
    expect(result.message).toContain(`${process.platform}-${process.arch}`)
  })
})

test('13. the demo prints what it built, never `undefined` or `NaN`', () => {
  const run = spawnSync(process.execPath, [join(__dirname, '..', 'examples', 'demo.js')], { encoding: 'utf8', timeout: 110_000 })
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
  expect(run.stdout).toMatch(/createIndex\(\): (hnsw|no index)/)
  // Hit lines quote package descriptions, which may say anything; every other line is the demo's own.
  const own = run.stdout.split('\n').filter((line) => !/^\s+-?\d\.\d{3}\s/.test(line))
  expect(own.filter((line) => /undefined|NaN/.test(line))).toEqual([])
})

describe('8. the CLI', () => {
  const cli = join(__dirname, '..', 'bin', 'lancestore.js')
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 110_000 })

  test('one-shot commands do not load the whole table into memory', async () => {
    const store = await EmbeddingStore.open(dir.path, { dimension: 4 })
    await store.addEmbeddings(randomVectors(50, 4, 3).map((vector, i) => ({ id: `r${i}`, vector })))
    await store.close()
    const stats = JSON.parse(run('stats', dir.path, '--json').stdout)
    expect(stats.rows).toBe(50)
    expect(stats.resident.state).toBe('off')
  })

  test('an error is reported even when closing the store fails after it', async () => {
    const { withStore } = require(cli) as {
      withStore: (dir: string, options: object, work: (s: unknown) => Promise<unknown>, open: () => Promise<unknown>) => Promise<unknown>
    }
    // A stand-in whose close() rejects: what matters here is which error withStore reports.
    const failingClose = { close: () => Promise.reject(new Error('close failed')) }
    const written: string[] = []
    const write = process.stderr.write
    process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write
    try {
      const work = () => Promise.reject(Object.assign(new Error('the real failure'), { code: 'INVALID_FILTER' }))
      await expect(withStore('x', {}, work, async () => failingClose)).rejects.toThrow('the real failure')
    } finally {
      process.stderr.write = write
    }
    expect(written.join('')).toContain('close failed')
    // Without an earlier error, a failing close is the error.
    await expect(withStore('x', {}, async () => 1, async () => failingClose)).rejects.toThrow('close failed')
  })
})

describe('11. the graph choice lasts', () => {
  const entry = join(__dirname, '..', 'index.js')
  const hidden = (name: string) => join(dir.path, `.lancestore-embeddings.${name}`)

  /** Another process on the same store: opens it (loading the saved graph), then obeys `add` and `close` on stdin. */
  function otherProcess() {
    const script = `
      const { EmbeddingStore } = require(${JSON.stringify(entry)})
      const readline = require('node:readline')
      const vector = (i) => Float32Array.from({ length: 8 }, (_, k) => Math.sin(i * 7.1 + k))
      ;(async () => {
        const store = await EmbeddingStore.open(${JSON.stringify(dir.path)})
        const settle = async () => {
          for (let t = 0; t < 600; t++) {
            const s = await store.stats()
            if (s.resident.state === 'ready' && !s.index.building) return
            await new Promise((r) => setTimeout(r, 50))
          }
        }
        await store.search(vector(1))
        await settle()
        console.log('ready')
        let next = 10_000
        for await (const line of readline.createInterface({ input: process.stdin })) {
          if (line === 'add') {
            await store.addEmbeddings(Array.from({ length: 10 }, () => ({ id: 'p' + next, vector: vector(next++) })))
            await settle()
            console.log('added')
          }
          if (line === 'close') {
            await store.close()
            console.log('closed')
            process.exit(0)
          }
        }
      })().catch((e) => { console.log('error ' + e.message); process.exit(1) })`
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines: string[] = []
    const waiters: Array<() => void> = []
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      lines.push(...chunk.split('\n').filter(Boolean))
      waiters.splice(0).forEach((w) => w())
    })
    const said = async (word: string) => {
      while (!lines.includes(word)) {
        if (lines.some((l) => l.startsWith('error'))) throw new Error(lines.join('\n'))
        await new Promise<void>((r) => waiters.push(r))
      }
    }
    return { child, said, send: (line: string) => child.stdin.write(`${line}\n`) }
  }

  async function withGraph(options: Record<string, number> = {}) {
    const store = await EmbeddingStore.open(dir.path, { dimension: 8, autoIndex: false })
    await store.addEmbeddings(randomVectors(3_000, 8, 5).map((vector, i) => ({ id: `r${i}`, vector })))
    await store.createIndex({ kind: 'hnsw', ...options })
    await store.close()
    expect(existsSync(hidden('hnsw'))).toBe(true)
  }

  test("createIndex({ kind: 'none' }) holds although another process with the graph saves at close", async () => {
    await withGraph()
    const other = otherProcess()
    await other.said('ready')
    const store = await EmbeddingStore.open(dir.path, { autoIndex: false })
    await expect(store.createIndex({ kind: 'none' })).resolves.toMatchObject({ kind: 'none' })
    await store.close()
    other.send('add') // rows the other process's graph has not saved yet
    await other.said('added')
    other.send('close')
    await other.said('closed')
    expect(existsSync(hidden('hnsw'))).toBe(false)
    const reopened = await EmbeddingStore.open(dir.path, { autoIndex: false })
    await reopened.search(randomVectors(1, 8, 9)[0])
    const stats = await reopened.stats()
    expect(stats.index.kind).toBeNull()
    expect(stats.index.graph).toBeNull()
    await reopened.close()
  })

  test('a store whose graph file vanished rebuilds it with the chosen settings', async () => {
    await withGraph({ numEdges: 8, efConstruction: 40 })
    rmSync(hidden('hnsw'))
    const store = await EmbeddingStore.open(dir.path, { autoIndex: false })
    await store.search(randomVectors(1, 8, 9)[0])
    for (let t = 0; t < 600 && (await store.stats()).index.graph?.source !== 'built'; t++) await new Promise((r) => setTimeout(r, 50))
    const graph = (await store.stats()).index.graph
    expect(graph).toMatchObject({ numEdges: 8, efConstruction: 40, source: 'built' })
    await store.close()
  })
})
