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

const PAGE = 4096;

/** Resident MiB of one ELF section of the executable. */
export interface SectionPages {
  /** Section name, e.g. `.text`, `.rodata`, `.rela.dyn`, `.data.rel.ro`. */
  name: string;
  /** Resident pages still shared with the file (clean). */
  fileMiB: number;
  /** Resident pages the process has written to (a private copy, e.g. after relocation). */
  copiedMiB: number;
  /** The section's size in the file. */
  sizeMiB: number;
}

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

/**
 * Resident pages of `pid`'s executable by ELF section, largest first (from
 * `/proc/<pid>/pagemap`: bit 63 resident, bit 61 still the file's page). Pages outside every
 * section (ELF headers, padding) are counted under `(other)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { binaryPages } from "./binary_pages.ts";
 * const text = binaryPages(Deno.pid).find((s) => s.name === ".text");
 * assert(text !== undefined && text.fileMiB > 1);
 * ```
 */
export function binaryPages(pid: number): SectionPages[] {
  const exe = Deno.readLinkSync(`/proc/${pid}/exe`);
  const secs = sections(exe);
  const totals = new Map<string, { file: number; copied: number; size: number }>();
  for (const s of secs) totals.set(s.name, { file: 0, copied: 0, size: s.size });
  totals.set("(other)", { file: 0, copied: 0, size: 0 });
  const sectionAt = (offset: number) =>
    secs.find((s) => offset + PAGE > s.offset && offset < s.offset + s.size)?.name ?? "(other)";

  const pagemap = Deno.openSync(`/proc/${pid}/pagemap`);
  try {
    for (const line of Deno.readTextFileSync(`/proc/${pid}/maps`).split("\n")) {
      const m = line.match(/^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(.*)$/);
      if (!m || m[4] !== exe) continue;
      const start = parseInt(m[1]!, 16), end = parseInt(m[2]!, 16), base = parseInt(m[3]!, 16);
      const pages = (end - start) / PAGE;
      const buf = new Uint8Array(pages * 8);
      pagemap.seekSync((start / PAGE) * 8, Deno.SeekMode.Start);
      for (let got = 0; got < buf.length;) {
        const r = pagemap.readSync(buf.subarray(got));
        if (r === null) break;
        got += r;
      }
      const view = new DataView(buf.buffer);
      for (let i = 0; i < pages; i++) {
        const flags = view.getUint32(i * 8 + 4, true);
        if (!(flags & 0x8000_0000)) continue;
        const t = totals.get(sectionAt(base + i * PAGE))!;
        if (flags & 0x2000_0000) t.file++;
        else t.copied++;
      }
    }
  } finally {
    pagemap.close();
  }
  const mib = (pages: number) => pages * PAGE / 1024 / 1024;
  return [...totals]
    .map(([name, t]) => ({
      name,
      fileMiB: mib(t.file),
      copiedMiB: mib(t.copied),
      sizeMiB: t.size / 1024 / 1024,
    }))
    .filter((s) => s.fileMiB + s.copiedMiB > 0)
    .sort((a, b) => b.fileMiB + b.copiedMiB - (a.fileMiB + a.copiedMiB));
}
