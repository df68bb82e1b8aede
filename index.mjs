// lancestore's ES module entry: the same objects as the CommonJS entry (`index.js`), as named exports.
// A test checks that every export of the native binding is listed here.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const binding = require('./index.js')

export const { EmbeddingStore, ErrorCode, ScanCursor } = binding
export default binding
