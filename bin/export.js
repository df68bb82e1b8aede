// `lancestore export`: a store's rows written to a file `import` reads back — JSON Lines (one
// `{ id, vector, metadata }` record per line), Parquet (written in Rust: `store.exportParquet`), or NumPy (`<file>.npy`, float32 [rows, dimension], with the ids and
// metadata in `<file>.ids.jsonl`, row order, for `import --ids`). Streams through `store.scan()`: memory stays at
// one batch whatever the table's size.
'use strict'

const fs = require('node:fs')

/** NPY header room: enough for any shape; the header is rewritten with the row count at the end. */
const NPY_HEADER_BYTES = 128

function npyHeader(rows, dimension) {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dimension}), }`
  const prefix = 10 // magic (6) + version (2) + header length (2)
  const header = Buffer.alloc(NPY_HEADER_BYTES, 0x20)
  header.write('\x93NUMPY', 0, 'latin1')
  header.writeUInt8(1, 6)
  header.writeUInt8(0, 7)
  header.writeUInt16LE(NPY_HEADER_BYTES - prefix, 8)
  header.write(dict, prefix, 'latin1')
  header.write('\n', NPY_HEADER_BYTES - 1, 'latin1')
  return header
}

/** Writes `chunks` (Buffers or strings) to `fd` in order. */
function writeAll(fd, chunks) {
  for (const chunk of chunks) fs.writeSync(fd, chunk)
}

/** A vector as a JSON array: each float32 in the shortest text that reads back to it, `-0` kept (JSON.stringify drops its sign). */
const vectorJson = (vector) => `[${Array.from(vector, (x) => (Object.is(x, -0) ? '-0' : String(x))).join(',')}]`

/** A JSON line for one row, the shape `import` reads (and `get()` returns): `{ id, vector, metadata? }`. */
function jsonLine(row, { vector = true } = {}) {
  let line = `{"id":${JSON.stringify(row.id)}`
  if (vector) line += `,"vector":${vectorJson(row.vector)}`
  if (row.metadata !== null && row.metadata !== undefined) line += `,"metadata":${JSON.stringify(row.metadata)}`
  return `${line}}\n`
}

/**
 * Exports `store` (optionally only the rows matching `filter`) to `file` as `format` ('jsonl', 'parquet' or 'npy');
 * `onRows(n)` hears the running row count. Resolves `{ rows, files }`.
 */
async function exportStore(store, file, { format, filter, batchSize, onRows = () => {} }) {
  if (format === 'parquet') {
    const rows = await store.exportParquet(file, { filter })
    onRows(rows)
    return { rows, files: [file] }
  }
  const rowsIterable = store.scan({ filter, batchSize })
  if (format === 'jsonl') {
    const fd = fs.openSync(file, 'w')
    let rows = 0
    try {
      let pending = []
      for await (const row of rowsIterable) {
        pending.push(jsonLine(row))
        rows++
        if (pending.length >= 1_000) {
          writeAll(fd, [pending.join('')])
          pending = []
          onRows(rows)
        }
      }
      writeAll(fd, [pending.join('')])
    } finally {
      fs.closeSync(fd)
    }
    onRows(rows)
    return { rows, files: [file] }
  }
  if (format === 'npy') {
    const idsFile = file.replace(/\.npy$/i, '') + '.ids.jsonl'
    const data = fs.openSync(file, 'w')
    const ids = fs.openSync(idsFile, 'w')
    let rows = 0
    try {
      writeAll(data, [npyHeader(0, store.dimension)])
      for await (const row of rowsIterable) {
        const vector = row.vector
        writeAll(data, [Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength)])
        writeAll(ids, [jsonLine(row, { vector: false })])
        rows++
        if (rows % 10_000 === 0) onRows(rows)
      }
      fs.writeSync(data, npyHeader(rows, store.dimension), 0, NPY_HEADER_BYTES, 0)
    } finally {
      fs.closeSync(data)
      fs.closeSync(ids)
    }
    onRows(rows)
    return { rows, files: [file, idsFile] }
  }
  throw new Error(`unknown export format ${JSON.stringify(format)}`)
}

module.exports = { exportStore, npyHeader }
