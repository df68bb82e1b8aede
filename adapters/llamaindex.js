// `lancestore/llamaindex` for CommonJS: the LlamaIndex.TS vector store over `@llamaindex/core`'s CommonJS build.
'use strict'

const { BaseVectorStore, nodeToMetadata, metadataDictToNode } = require('@llamaindex/core/vector-store')
const { EmbeddingStore } = require('../index.js')
const { defineLlamaIndexStore } = require('./llamaindex-store.js')

const LancestoreVectorStore = defineLlamaIndexStore({ BaseVectorStore, nodeToMetadata, metadataDictToNode, EmbeddingStore })

module.exports = { LancestoreVectorStore, default: LancestoreVectorStore }
