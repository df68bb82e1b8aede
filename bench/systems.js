// The two systems under test behind one small interface: open/add/search/close on a directory.
// @lancedb/lancedb is used as its docs recommend: one batched add per batch, vectorSearch().limit(k),
// Float32Array vectors, the same columns (id, vector, metadata as JSON text) and the same metric.
'use strict'

const lancestore = {
  name: 'lancestore',
  async open(dir, dim, options = {}) {
    const { EmbeddingStore } = require('..')
    const store = await EmbeddingStore.open(dir, { dimension: dim, metric: 'cosine', ...options })
    return {
      add: (rows) => store.addEmbeddings(rows.map((r) => ({ id: r.id, vector: r.vector, metadata: r.metadata }))),
      search: async (query, k) => (await store.search(query, { limit: k })).map((h) => h.id),
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
      ])
      table = await db.createEmptyTable('embeddings', schema)
    }
    return {
      add: (rows) => table.add(rows.map((r) => ({ id: r.id, vector: r.vector, metadata: JSON.stringify(r.metadata) }))),
      search: async (query, k) => {
        const rows = await table.vectorSearch(query).distanceType('cosine').select(['id', 'metadata']).limit(k).toArray()
        return rows.map((r) => r.id)
      },
      stats: async () => null,
      close: async () => {
        table.close()
        db.close()
      },
    }
  },
}

module.exports = { lancestore, lancedb: lancedbSdk }
