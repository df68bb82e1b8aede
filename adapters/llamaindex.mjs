// `lancestore/llamaindex` for ES modules: the LlamaIndex.TS vector store over `@llamaindex/core`'s ES module build.
import { EmbeddingStore } from '../index.mjs'
import adapter from './llamaindex-store.js'
import shared from './shared.js'

const { BaseVectorStore, nodeToMetadata, metadataDictToNode } = await import('@llamaindex/core/vector-store').catch(
  (error) => {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw shared.peerMissing('lancestore/llamaindex', '@llamaindex/core', error)
  },
)

export const LancestoreVectorStore = adapter.defineLlamaIndexStore({
  BaseVectorStore,
  nodeToMetadata,
  metadataDictToNode,
  EmbeddingStore,
})
export default LancestoreVectorStore
