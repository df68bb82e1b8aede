// The LlamaIndex.TS adapter's class, built over the `BaseVectorStore` and node helpers of whichever
// `@llamaindex/core` build loads it (CommonJS from `llamaindex.js`, ES modules from `llamaindex.mjs`).
'use strict'

const { LazyStore, invalid, searchDiverse } = require('./shared.js')

/** The declared field that holds each node's source document id, so `delete(refDocId)` is one filtered commit. */
const REF_DOC_ID = 'ref_doc_id'

/** LlamaIndex's filter operators, as lancestore filter conditions on one field. */
const OPERATORS = {
  '==': (value) => value,
  '!=': (value) => ({ $ne: value }),
  '>': (value) => ({ $gt: value }),
  '>=': (value) => ({ $gte: value }),
  '<': (value) => ({ $lt: value }),
  '<=': (value) => ({ $lte: value }),
  in: (value) => ({ $in: value }),
  nin: (value) => ({ $nin: value }),
  any: (value) => ({ $in: value }),
  contains: (value) => value,
  is_empty: () => ({ $exists: false }),
}

/**
 * LlamaIndex `MetadataFilters` as a lancestore filter: each filter on a declared field, joined by `and`
 * (default) or `or`. `all` becomes one equality per value (a `string[]` field contains each). An
 * operator lancestore cannot express (`text_match`) is refused with `INVALID_FILTER`, never dropped.
 */
function toFilter(filters) {
  if (filters === undefined || filters === null) return undefined
  if (typeof filters !== 'object' || !Array.isArray(filters.filters)) {
    throw invalid('`filters` must be { filters: MetadataFilter[], condition? }', 'INVALID_FILTER')
  }
  const parts = filters.filters.map((f, i) => {
    if (f === null || typeof f !== 'object' || typeof f.key !== 'string') {
      throw invalid(`filters[${i}] must be { key, operator, value }`, 'INVALID_FILTER')
    }
    const operator = f.operator ?? '=='
    if (operator === 'all') {
      if (!Array.isArray(f.value)) throw invalid(`filters[${i}]: \`all\` takes an array`, 'INVALID_FILTER')
      return { $and: f.value.map((v) => ({ [f.key]: v })) }
    }
    const condition = Object.hasOwn(OPERATORS, operator) ? OPERATORS[operator] : null
    if (!condition) {
      throw invalid(`filters[${i}]: the operator ${JSON.stringify(operator)} is not supported by lancestore`, 'INVALID_FILTER')
    }
    return { [f.key]: condition(f.value) }
  })
  const join = filters.condition ?? 'and'
  if (join !== 'and' && join !== 'or') throw invalid('`filters.condition` must be "and" or "or"', 'INVALID_FILTER')
  if (parts.length === 0) return undefined
  return join === 'and' ? { $and: parts } : { $or: parts }
}

function defineLlamaIndexStore({ BaseVectorStore, nodeToMetadata, metadataDictToNode, EmbeddingStore }) {
  /**
   * A LlamaIndex `BaseVectorStore` over one lancestore table. Each node is stored under its id with its
   * embedding, its text and node data in the metadata, and its source document's id in the declared
   * field `ref_doc_id`. Filters use the fields declared with `fields`. Similarities are lancestore's scores.
   */
  class LancestoreVectorStore extends BaseVectorStore {
    storesText = true

    constructor(config) {
      super(config ?? {})
      this.lazy = new LazyStore(EmbeddingStore, config, { [REF_DOC_ID]: 'string' })
    }

    /** A store opened now (its table created with `config.dimension` if it does not exist). */
    static async open(config) {
      const store = new this(config)
      await store.lazy.get()
      return store
    }

    /** The lancestore `EmbeddingStore` once opened (after `open()` or the first call), else `null`. */
    client() {
      return this.lazy.store
    }

    /** Stores the nodes with their embeddings in one atomic commit (a node id already stored is replaced). */
    async add(nodes) {
      if (!Array.isArray(nodes)) throw invalid('`nodes` must be an array')
      if (nodes.length === 0) return []
      const items = nodes.map((node, i) => {
        const vector = node?.embedding
        if (!vector) throw invalid(`nodes[${i}] has no embedding`, 'INVALID_VECTOR')
        return { id: node.id_, vector, metadata: nodeToMetadata(node) }
      })
      const store = await this.lazy.get(items[0].vector)
      await store.upsertEmbeddings(items)
      return items.map((item) => item.id)
    }

    /** Removes every node of the source document `refDocId`, in one commit. */
    async delete(refDocId) {
      if (typeof refDocId !== 'string') throw invalid('`refDocId` must be a string')
      const store = await this.lazy.get()
      await store.delete({ filter: { [REF_DOC_ID]: refDocId } })
    }

    /**
     * The `similarityTopK` nodes nearest to `queryEmbedding`, within `filters` and `docIds` (source document
     * ids). Mode `mmr` picks them by maximal marginal relevance (`mmrThreshold` is lambda, default 0.5)
     * from `4 × similarityTopK` candidates. Other modes need text search, which lancestore does not have yet:
     * refused with `INVALID_ARGUMENT`.
     */
    async query(query) {
      const vector = query?.queryEmbedding
      if (!vector) throw invalid('the query needs `queryEmbedding`')
      const mode = query.mode ?? 'default'
      if (mode !== 'default' && mode !== 'mmr') throw invalid(`query mode ${JSON.stringify(mode)} is not supported`)
      let filter = toFilter(query.filters)
      if (query.docIds) {
        const docs = { [REF_DOC_ID]: { $in: query.docIds } }
        filter = filter ? { $and: [filter, docs] } : docs
      }
      const k = query.similarityTopK
      const store = await this.lazy.get(vector)
      const hits =
        mode === 'mmr'
          ? await searchDiverse(store, vector, { k, fetchK: 4 * k, lambda: query.mmrThreshold, filter })
          : await store.search(vector, { limit: k, filter })
      return {
        nodes: hits.map((hit) => metadataDictToNode(hit.metadata ?? {})),
        similarities: hits.map((hit) => hit.score),
        ids: hits.map((hit) => hit.id),
      }
    }

    /** Closes the store underneath; closing twice is harmless. */
    async close() {
      await this.lazy.close()
    }

    async [Symbol.asyncDispose]() {
      await this.close()
    }
  }
  return LancestoreVectorStore
}

module.exports = { defineLlamaIndexStore, toFilter }
