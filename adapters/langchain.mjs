// `lancestore/langchain` for ES modules: the LangChain.js vector store over `@langchain/core`'s ES module build.
import { EmbeddingStore } from '../index.mjs'
import adapter from './langchain-store.js'
import shared from './shared.js'

const [{ VectorStore }, { Document }] = await Promise.all([
  import('@langchain/core/vectorstores'),
  import('@langchain/core/documents'),
]).catch((error) => {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error
  throw shared.peerMissing('lancestore/langchain', '@langchain/core', error)
})

export const LancestoreVectorStore = adapter.defineLangChainStore({ VectorStore, Document, EmbeddingStore })
export default LancestoreVectorStore
