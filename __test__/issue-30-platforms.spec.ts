// The glibc floor's checker (scripts/check-glibc.js), which `npm run package` runs on the published linux-gnu
// binary: it reads real symbol versions with objdump, and it refuses what the floor does not allow. The floor
// binary itself takes a `dist` build (about an hour here), so it is checked by `npm run package`, not by this suite.
import { join } from 'node:path'
import { existsSync } from 'node:fs'

const glibc = require('../scripts/check-glibc.js') as {
  compareVersions(a: string, b: string): number
  problems(found: Found, options: { max: string | null; noLibstdcxx: boolean }): string[]
  requirements(file: string): Found
}

interface Found {
  glibc: string | null
  glibcxx: string | null
  cxxabi: string | null
  needed: string[]
}

const linuxBinary = join(__dirname, '..', `lancestore.linux-${process.arch}-gnu.node`)
const onLinuxWithBinary = process.platform === 'linux' && existsSync(linuxBinary) ? test : test.skip

test('versions compare as numbers, not as text', () => {
  expect(glibc.compareVersions('2.17', '2.9')).toBeGreaterThan(0)
  expect(glibc.compareVersions('2.17', '2.17')).toBe(0)
  expect(glibc.compareVersions('2.17', '2.17.1')).toBeLessThan(0)
  expect(glibc.compareVersions('3.4.22', '3.4.9')).toBeGreaterThan(0)
})

test('a binary above the floor, or needing libstdc++, is refused with what it needs', () => {
  const modern: Found = { glibc: '2.35', glibcxx: '3.4.22', cxxabi: '1.3.9', needed: ['libstdc++.so.6', 'libc.so.6'] }
  expect(glibc.problems(modern, { max: '2.17', noLibstdcxx: true })).toEqual([
    'it needs GLIBC_2.35, newer than the floor 2.17',
    'it needs libstdc++ (GLIBCXX_3.4.22, CXXABI_1.3.9)',
  ])
  const floor: Found = { glibc: '2.17', glibcxx: null, cxxabi: null, needed: ['libc.so.6', 'libm.so.6'] }
  expect(glibc.problems(floor, { max: '2.17', noLibstdcxx: true })).toEqual([])
  const onlyNeeded: Found = { glibc: '2.14', glibcxx: null, cxxabi: null, needed: ['libstdc++.so.6'] }
  expect(glibc.problems(onlyNeeded, { max: '2.17', noLibstdcxx: true })).toEqual(['it needs libstdc++ (NEEDED)'])
})

onLinuxWithBinary('reads the real requirements of the binary this clone built', () => {
  const found = glibc.requirements(linuxBinary)
  expect(found.glibc).toMatch(/^2\.\d+/)
  expect(found.needed).toContain('libc.so.6')
})
