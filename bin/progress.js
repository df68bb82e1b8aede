// Progress output for the CLI's long commands, from the library's `onProgress` events: on a terminal a
// bar redrawn in place with the rate and an ETA; otherwise a plain line at most once a second (and at
// the end), so logs stay readable.
'use strict'

const BAR = 24

function count(n) {
  return Math.round(n).toLocaleString('en-US')
}

function duration(seconds) {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`
}

/** The share done (0..1) when the event says how much there is, else null. */
function share(p) {
  if (p.totalBytes > 0 && p.bytes != null) return Math.min(1, p.bytes / p.totalBytes)
  if (p.totalRows > 0) return Math.min(1, p.rows / p.totalRows)
  return null
}

/** One line describing `p`, `elapsed` seconds after the start. */
function describe(label, p, elapsed) {
  const parts = [label.padEnd(8), p.phase.padEnd(6)]
  const done = share(p)
  if (done != null) {
    const filled = Math.round(done * BAR)
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${String(Math.floor(done * 100)).padStart(3)}%`)
  }
  parts.push(p.totalRows ? `${count(p.rows)}/${count(p.totalRows)} rows` : `${count(p.rows)} rows`)
  if (elapsed > 0.2 && p.rows > 0) {
    parts.push(`${count(p.rows / elapsed)} rows/s`)
    if (p.bytes) parts.push(`${(p.bytes / elapsed / 1e6).toFixed(1)} MB/s`)
  }
  if (p.phase === 'done') parts.push(`in ${duration(elapsed)}`)
  else if (done != null && done > 0.01 && elapsed > 0.5) parts.push(`ETA ${duration((elapsed / done) * (1 - done))}`)
  return parts.join('  ')
}

/** A printer to `stream`: `update` is the `onProgress` callback, `end` finishes the output. */
function progressPrinter(stream, label) {
  const tty = Boolean(stream.isTTY)
  const started = Date.now()
  let lastLine = 0
  let drawn = false
  const update = (p) => {
    const elapsed = (Date.now() - started) / 1000
    const text = describe(label, p, elapsed)
    if (tty) {
      stream.write(`\r${text}\u001b[K`)
      drawn = true
    } else if (p.phase !== 'read' || Date.now() - lastLine >= 1000) {
      lastLine = Date.now()
      stream.write(`${text}\n`)
    }
  }
  const end = () => {
    if (drawn) stream.write('\n')
    drawn = false
  }
  return { update, end }
}

module.exports = { progressPrinter, describe }
