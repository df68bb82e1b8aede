// The two systems under test behind one small interface: open/add/search/close on a directory.
// @lancedb/lancedb is used as its docs recommend: one batched add per batch, vectorSearch().limit(k),
// Float32Array vectors, the same columns (id, vector, metadata as JSON text) and the same metric.
'use strict'

const lancestore = {
  name: 'lancestore',
  async open(dir, dim, options = {}) {
    const { EmbeddingStore } = require('..')
    // autoIndex off: the exact-search rows must measure exact search; the index is built by createIndex below.
    const store = await EmbeddingStore.open(dir, { dimension: dim, metric: 'cosine', fields: { section: 'string' }, autoIndex: false, ...options })
    return {
      add: (rows) => store.addEmbeddings(rows.map((r) => ({ id: r.id, vector: r.vector, metadata: r.metadata }))),
      search: async (query, k, section) => (await store.search(query, section ? { limit: k, filter: { section } } : { limit: k })).map((h) => h.id),
      optimize: (options) => store.optimize(options),
      // What a user gets without knowing any index knob: createIndex() ("auto"), default search options.
      createIndex: (kind = 'auto') => store.createIndex({ kind }),
      stats: () => store.stats(),
      close: () => store.close(),
    }
  },
}

const lancedbSdk = {
  name: '@lancedb/lancedb',
  async open(dir, dim) {
    const lancedb = require('@lancedb/lancedb')
    const arrow = require('apache-arrow')
    const db = await lancedb.connect(dir)
    const names = await db.tableNames()
    let table
    if (names.includes('embeddings')) {
      table = await db.openTable('embeddings')
    } else {
      const schema = new arrow.Schema([
        new arrow.Field('id', new arrow.Utf8(), false),
        new arrow.Field('vector', new arrow.FixedSizeList(dim, new arrow.Field('item', new arrow.Float32(), true)), false),
        new arrow.Field('metadata', new arrow.Utf8(), true),
        new arrow.Field('section', new arrow.Utf8(), true),
      ])
      table = await db.createEmptyTable('embeddings', schema)
    }
    return {
      add: (rows) =>
        table.add(rows.map((r) => ({ id: r.id, vector: r.vector, metadata: JSON.stringify(r.metadata), section: r.metadata.section }))),
      search: async (query, k, section) => {
        let q = table.vectorSearch(query).distanceType('cosine').select(['id', 'metadata']).limit(k)
        // Section names are plain identifiers-like words from the data set; escape quotes all the same.
        if (section) q = q.where(`section = '${section.replace(/'/g, "''")}'`)
        const rows = await q.toArray()
        return rows.map((r) => r.id)
      },
      optimize: () => table.optimize(),
      // LanceDB's default vector index, built the way its docs show (IVF_PQ, default parameters).
      createIndex: () => table.createIndex('vector', { config: lancedb.Index.ivfPq({ distanceType: 'cosine' }) }),
      stats: async () => null,
      close: async () => {
        table.close()
        db.close()
      },
    }
  },
}

// usearch (npm): the in-memory anchor. Not durable and without metadata filters; measured for exact
// search (`exactSearch` over one Float32Array) and for its HNSW index with default parameters.
const usearch = {
  name: 'usearch',
  load(data) {
    const { Index, exactSearch } = require('usearch')
    const dataset = data.base.slice(0, data.n * data.dim) // its own copy, as a user's process would hold
    let index = null
    const ids = (keys) => Array.from(keys, (k) => `row-${k}`)
    return {
      search: async (query, k) =>
        // exactSearch reads a subarray's buffer from its start (it ignores byteOffset): pass a copy.
        index ? ids(index.search(query, k).keys) : ids(exactSearch(dataset, query.slice(), data.dim, k, 'cos').keys),
      buildIndex() {
        index = new Index({ dimensions: data.dim, metric: 'cos', connectivity: 16 })
        const keys = new BigUint64Array(data.n)
        for (let i = 0; i < data.n; i++) keys[i] = BigInt(i)
        index.add(keys, dataset)
      },
    }
  },
}

module.exports = { lancestore, lancedb: lancedbSdk, usearch }
