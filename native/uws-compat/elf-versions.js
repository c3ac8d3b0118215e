'use strict';
/**
 * A minimal ELF64 (little-endian) editor for symbol versions, and nothing else.
 *
 * uWebSockets.js v20.57's Linux binary asks glibc for GLIBC_2.38, but only for three C23 symbols
 * (__isoc23_strtol, __isoc23_strtoul, __isoc23_sscanf). On glibc < 2.38 the dynamic loader refuses
 * the whole file. `relaxVersionNeed` makes a loadable copy with two kinds of edit:
 *
 *   1. each named symbol's entry in .gnu.version (SHT_GNU_versym) becomes 1 (VER_NDX_GLOBAL:
 *      "unversioned"), so the loader resolves it by name from the global scope, where Floodgate's
 *      native addon (loaded with RTLD_GLOBAL first) defines it;
 *   2. the version need itself (a Vernaux entry in .gnu.version_r) gets VER_FLG_WEAK, so a libc
 *      without that version is no longer an error (glibc's loader skips weak needs it can't meet).
 *
 * No byte outside those 2-byte fields changes, no section moves, and the edit refuses to run when
 * any other symbol needs the version (then relaxing it would hide a real missing function).
 * Reference: the System V gABI and the LSB's "Symbol Versioning" chapter; no code is copied.
 *
 * Plain CommonJS with no dependencies: it runs at `npm install`, before TypeScript is compiled.
 */

const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const VER_FLG_WEAK = 0x2;
const VER_NDX_GLOBAL = 1;
const VERSYM_HIDDEN = 0x8000;

class ElfEditError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ElfEditError';
    this.code = 'ERR_ELF_EDIT';
  }
}

function cString(buf, offset) {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new ElfEditError(`unterminated string at ${offset}`);
  return buf.toString('latin1', offset, end);
}

/** Section headers of an ELF64 little-endian file: {name, type, offset, size, link, entsize}. */
function readSections(buf) {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new ElfEditError('not an ELF file');
  if (buf[4] !== 2) throw new ElfEditError('not a 64-bit ELF file');
  if (buf[5] !== 1) throw new ElfEditError('not a little-endian ELF file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  if (shoff === 0 || shnum === 0 || shoff + shnum * shentsize > buf.length) throw new ElfEditError('no section header table');
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      nameOffset: buf.readUInt32LE(at),
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 0x18)),
      size: Number(buf.readBigUInt64LE(at + 0x20)),
      link: buf.readUInt32LE(at + 0x28),
      entsize: Number(buf.readBigUInt64LE(at + 0x38)),
      name: '',
    });
  }
  const names = sections[shstrndx];
  for (const s of sections) s.name = names === undefined ? '' : cString(buf, names.offset + s.nameOffset);
  return sections;
}

function onlySection(sections, type, what) {
  const found = sections.filter((s) => s.type === type);
  if (found.length !== 1) throw new ElfEditError(`expected one ${what} section, found ${found.length}`);
  return found[0];
}

/**
 * Every version need: [{file, version, index, flags, flagsOffset}], read from .gnu.version_r.
 * `index` is the value .gnu.version entries use to point at this need.
 */
function readVersionNeeds(buf, sections) {
  const verneed = onlySection(sections, SHT_GNU_VERNEED, '.gnu.version_r');
  const strtab = sections[verneed.link];
  const needs = [];
  let at = verneed.offset;
  for (;;) {
    const count = buf.readUInt16LE(at + 2);
    const file = cString(buf, strtab.offset + buf.readUInt32LE(at + 4));
    let aux = at + buf.readUInt32LE(at + 8);
    for (let i = 0; i < count; i++) {
      needs.push({
        file,
        version: cString(buf, strtab.offset + buf.readUInt32LE(aux + 8)),
        index: buf.readUInt16LE(aux + 6) & 0x7fff,
        flags: buf.readUInt16LE(aux + 4),
        flagsOffset: aux + 4,
      });
      const next = buf.readUInt32LE(aux + 12);
      if (next === 0) break;
      aux += next;
    }
    const next = buf.readUInt32LE(at + 12);
    if (next === 0) break;
    at += next;
  }
  return needs;
}

/** Dynamic symbols with their version index: [{name, version, versymOffset}]. */
function readDynamicSymbols(buf, sections) {
  const dynsym = onlySection(sections, SHT_DYNSYM, '.dynsym');
  const versym = onlySection(sections, SHT_GNU_VERSYM, '.gnu.version');
  const strtab = sections[dynsym.link];
  const entsize = dynsym.entsize || 24;
  const count = dynsym.size / entsize;
  if (versym.size / 2 !== count) throw new ElfEditError('.gnu.version and .dynsym disagree on the symbol count');
  const symbols = [];
  for (let i = 0; i < count; i++) {
    const versymOffset = versym.offset + i * 2;
    symbols.push({
      name: cString(buf, strtab.offset + buf.readUInt32LE(dynsym.offset + i * entsize)),
      version: buf.readUInt16LE(versymOffset) & ~VERSYM_HIDDEN,
      versymOffset,
    });
  }
  return symbols;
}

/** Which symbols need `version` (e.g. 'GLIBC_2.38'): names, in table order. */
function symbolsNeedingVersion(buf, version) {
  const sections = readSections(buf);
  const need = readVersionNeeds(buf, sections).find((n) => n.version === version);
  if (need === undefined) return [];
  return readDynamicSymbols(buf, sections)
    .filter((s) => s.version === need.index)
    .map((s) => s.name);
}

/**
 * Returns a patched copy of `input` (a Buffer) in which `symbols` no longer carry `version` and
 * the need for `version` is weak. Throws ElfEditError, saying why, when the file is not what we
 * expect: no such need, a listed symbol missing, or another symbol needing the version too.
 * Also returns the list of edits, for the install log and the tests.
 */
function relaxVersionNeed(input, version, symbols) {
  const buf = Buffer.from(input);
  const sections = readSections(buf);
  const needs = readVersionNeeds(buf, sections).filter((n) => n.version === version);
  if (needs.length === 0) throw new ElfEditError(`the binary does not need ${version}`);
  if (needs.length > 1) throw new ElfEditError(`the binary needs ${version} more than once`);
  const need = needs[0];
  const wanted = new Set(symbols);
  const edits = [];
  for (const sym of readDynamicSymbols(buf, sections)) {
    if (sym.version !== need.index) continue;
    if (!wanted.has(sym.name)) {
      throw new ElfEditError(`${sym.name} also needs ${version}; relaxing the need would hide it`);
    }
    wanted.delete(sym.name);
    buf.writeUInt16LE(VER_NDX_GLOBAL, sym.versymOffset);
    edits.push({ kind: 'unversion', symbol: sym.name, offset: sym.versymOffset });
  }
  if (wanted.size > 0) throw new ElfEditError(`expected ${[...wanted].join(', ')} to need ${version}`);
  buf.writeUInt16LE(need.flags | VER_FLG_WEAK, need.flagsOffset);
  edits.push({ kind: 'weaken', need: `${need.file} ${version}`, offset: need.flagsOffset });
  return { patched: buf, edits };
}

module.exports = {
  ElfEditError,
  VER_FLG_WEAK,
  readSections,
  readVersionNeeds,
  readDynamicSymbols,
  symbolsNeedingVersion,
  relaxVersionNeed,
};
