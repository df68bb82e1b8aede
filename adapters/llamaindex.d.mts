// Types of `lancestore/llamaindex` for ES modules: the same declarations as llamaindex.d.ts, with an ES module default export.
import { LancestoreVectorStore } from './llamaindex.js'

export * from './llamaindex.js'
export default LancestoreVectorStore
