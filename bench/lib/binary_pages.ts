/**
 * Which parts of a process's own executable are resident: its pages in memory, by ELF section.
 *
 * The `deno` binary is most of a small sidecar's resident memory, and not all of it is code that
 * runs: the dynamic loader reads `.rela.dyn` once at start, V8 reads its startup snapshot in
 * `.rodata` once, and the kernel maps up to 16 neighbouring pages with each page it faults in
 * ("fault-around"). Counting resident pages per section says which of these it is.
 *
 * @module
 */

import { mappings } from "./procfs.ts";

const PAGE = 4096;

interface Section {
  name: string;
  offset: number;
  size: number;
}

/** Section headers of an ELF64 little-endian file (sections with bytes in the file only). */
function sections(path: string): Section[] {
  const file = Deno.openSync(path);
  try {
    const read = (at: number, n: number) => {
      const buf = new Uint8Array(n);
      file.seekSync(at, Deno.SeekMode.Start);
      let got = 0;
      while (got < n) {
        const r = file.readSync(buf.subarray(got));
        if (r === null) throw new Error(`${path}: ends before byte ${at + n}`);
        got += r;
      }
      return new DataView(buf.buffer);
    };
    const head = read(0, 64);
    if (head.getUint32(0) !== 0x7f454c46 || head.getUint8(4) !== 2 || head.getUint8(5) !== 1) {
      throw new Error(`${path}: not a 64-bit little-endian ELF file`);
    }
    const shoff = Number(head.getBigUint64(0x28, true));
    const entsize = head.getUint16(0x3a, true);
    const count = head.getUint16(0x3c, true);
    const strndx = head.getUint16(0x3e, true);
    const table = read(shoff, entsize * count);
    const raw = Array.from({ length: count }, (_, i) => ({
      nameAt: table.getUint32(i * entsize, true),
      type: table.getUint32(i * entsize + 4, true),
      offset: Number(table.getBigUint64(i * entsize + 24, true)),
      size: Number(table.getBigUint64(i * entsize + 32, true)),
    }));
    const strtab = raw[strndx]!;
    const names = new Uint8Array(read(strtab.offset, strtab.size).buffer);
    const nameOf = (at: number) =>
      new TextDecoder().decode(names.subarray(at, names.indexOf(0, at)));
    const NOBITS = 8;
    return raw
      .filter((s) => s.type !== NOBITS && s.size > 0 && s.offset > 0)
      .map((s) => ({ name: nameOf(s.nameAt), offset: s.offset, size: s.size }));
  } finally {
    file.close();
  }
}

/** Resident MiB of the executable's parts that tell a floor apart (see the module doc). */
export interface BinarySummary {
  /** Code, clean pages of `.text`. */
  text: number;
  /** Constants and V8's startup snapshot, clean pages of `.rodata`. */
  rodata: number;
  /** Relocations the dynamic loader applied at start, clean pages of `.rela.dyn`. */
  relocations: number;
  /** Pages the process has written to (`.data.rel.ro` after relocation, `.data`). */
  written: number;
}

/**
 * Resident pages of `pid`'s executable by ELF section, from `/proc/<pid>/pagemap` (bit 63
 * resident, bit 61 still the file's page), summed into {@linkcode BinarySummary}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { binarySummary } from "./binary_pages.ts";
 * const own = binarySummary(Deno.pid);
 * assert(own.text > 1 && own.relocations > 0);
 * ```
 */
export function binarySummary(pid: number): BinarySummary {
  const exe = Deno.readLinkSync(`/proc/${pid}/exe`);
  const secs = sections(exe);
  const clean = new Map<string, number>();
  let written = 0;
  const sectionAt = (offset: number) =>
    secs.find((s) => offset + PAGE > s.offset && offset < s.offset + s.size)?.name;

  const pagemap = Deno.openSync(`/proc/${pid}/pagemap`);
  try {
    for (const m of mappings(pid)) {
      if (m.name !== exe) continue;
      const pages = (m.end - m.start) / PAGE;
      const buf = new Uint8Array(pages * 8);
      pagemap.seekSync((m.start / PAGE) * 8, Deno.SeekMode.Start);
      for (let got = 0; got < buf.length;) {
        const r = pagemap.readSync(buf.subarray(got));
        if (r === null) break;
        got += r;
      }
      const view = new DataView(buf.buffer);
      for (let i = 0; i < pages; i++) {
        const flags = view.getUint32(i * 8 + 4, true);
        if (!(flags & 0x8000_0000)) continue;
        if (!(flags & 0x2000_0000)) {
          written++;
          continue;
        }
        const name = sectionAt(m.offset + i * PAGE);
        if (name) clean.set(name, (clean.get(name) ?? 0) + 1);
      }
    }
  } finally {
    pagemap.close();
  }
  const mib = (pages: number) => pages * PAGE / 1024 / 1024;
  return {
    text: mib(clean.get(".text") ?? 0),
    rodata: mib(clean.get(".rodata") ?? 0),
    relocations: mib(clean.get(".rela.dyn") ?? 0),
    written: mib(written),
  };
}
