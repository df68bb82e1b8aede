#!/usr/bin/env node
// What the addon's code is made of: links the release build once more with a linker map (and symbols kept),
// then adds up the sections each crate (or C/C++ library built by a crate) put into the binary, after the
// linker dropped what nothing reaches. The release profile has no LTO, so the figures are larger than the
// published `dist` binary's (fat LTO, size-optimised dependencies) but their proportions are what it holds.
// Usage: node scripts/size-by-crate.js [--top N] [--map FILE (read a map made earlier)]. Takes a relink (~2 minutes); the next `npm run build`
// relinks again without the map. Linux x64 with rustc's default linker (lld), whose map format it reads.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.resolve(__dirname, '..')
const target = 'x86_64-unknown-linux-gnu'
// Sections that take space in the file; debug sections and .bss (no bytes in the file) are left out.
const COUNTED = new Set(['.text', '.rodata', '.eh_frame', '.eh_frame_hdr', '.gcc_except_table', '.data.rel.ro', '.data', '.rela.dyn', '.tdata'])

/** The crate an input file of the link came from. */
function crateOf(input) {
  let m = /\/lib([\w-]+?)-[0-9a-f]{16}\.rlib/.exec(input)
  if (m) return m[1]
  m = /\/build\/([\w-]+?)-[0-9a-f]{16}\//.exec(input)
  if (m) return `${m[1]} (C/C++)`
  if (/\/deps\/lancestore\.[^/]*\.o:/.test(input)) return 'lancestore'
  if (input.startsWith('<internal>')) return '(linker: relocations, PLT, unwind index)'
  return `(other: ${input.replace(/\(.*/, '').split('/').pop()})`
}

/** The family a crate belongs to, for the summary. */
function familyOf(crate) {
  if (crate.startsWith('lance_namespace')) return 'lance-namespace (+impls)'
  if (crate.startsWith('lancedb')) return 'lancedb'
  if (crate.startsWith('lancestore')) return 'lancestore (ours, with the generic code it instantiates)'
  if (crate.startsWith('lance')) return 'lance (format, encodings, indexes, I/O)'
  if (crate.startsWith('datafusion') || crate === 'sqlparser') return 'DataFusion + sqlparser'
  if (crate.startsWith('arrow') || crate === 'parquet') return 'Arrow + Parquet'
  if (/^(aws|opendal|reqsign|rustls|reqwest|hyper|h2|object_store|webpki|quick_xml|crc_fast)/.test(crate)) {
    return 'object storage, HTTP, TLS'
  }
  if (crate.startsWith('usearch')) return 'usearch (C++ graph)'
  if (/^(icu|jieba|lindera|tantivy|rust_stemmers|libsais|fst)/.test(crate)) return 'full-text tokenizers'
  if (crate.startsWith('(linker')) return crate
  return 'everything else'
}

/** Bytes by crate, from an lld map file. */
function bytesByCrate(mapFile) {
  const line = /^\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (.*)$/
  const sizes = new Map()
  let section = null
  for (const text of fs.readFileSync(mapFile, 'utf8').split('\n')) {
    const m = line.exec(text)
    if (!m) continue
    const rest = m[2]
    if (!rest.startsWith(' ')) {
      section = rest.trim() // an output section
      continue
    }
    if (rest.startsWith(' '.repeat(16)) || !COUNTED.has(section)) continue // a symbol, or a section not counted
    const crate = crateOf(rest.trim())
    sizes.set(crate, (sizes.get(crate) ?? 0) + parseInt(m[1], 16))
  }
  return sizes
}

function table(rows, total) {
  return rows.map(([name, bytes]) => `${(bytes / 1e6).toFixed(1).padStart(7)} MB ${((100 * bytes) / total).toFixed(1).padStart(5)} %  ${name}`)
}

/** Relinks the release build with a linker map; the map's path. */
function linkWithMap() {
  const mapFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-size-')), 'link.map')
  const env = { ...process.env, CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache', 'lancestore', 'target') }
  execFileSync('cargo', ['rustc', '--release', '--target', target, '--lib', '--', '-C', `link-arg=-Wl,-Map=${mapFile}`, '-C', 'strip=none'], {
    cwd: root,
    env,
    stdio: 'inherit',
  })
  return mapFile
}

function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error('size-by-crate reads an lld map of a linux-x64 link')
  const at = process.argv.indexOf('--top')
  const top = at >= 0 ? Number(process.argv[at + 1]) : 30
  const given = process.argv.indexOf('--map')
  const sizes = given >= 0 ? bytesByCrate(process.argv[given + 1]) : bytesByCrate(linkWithMap())
  const total = [...sizes.values()].reduce((a, b) => a + b, 0)
  if (total === 0) throw new Error('the linker map listed no sections: is the linker lld?')
  const families = new Map()
  for (const [crate, bytes] of sizes) families.set(familyOf(crate), (families.get(familyOf(crate)) ?? 0) + bytes)
  const bySize = (m) => [...m].sort((a, b) => b[1] - a[1])
  console.log(`release build, ${(total / 1e6).toFixed(1)} MB of code and data by family:`)
  console.log(table(bySize(families), total).join('\n'))
  console.log(`\nlargest ${top} crates:`)
  console.log(table(bySize(sizes).slice(0, top), total).join('\n'))
}

try {
  main()
} catch (e) {
  console.error(`size-by-crate: ${e.message}`)
  process.exit(1)
}
