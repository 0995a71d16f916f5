/**
 * The symbol versions a shared object needs from each library, read from its ELF file the way
 * the dynamic loader does: the version-needed section (`SHT_GNU_verneed`), each entry a library
 * and the versions of it the object's symbols were linked against. What `objdump -T` shows as
 * `(GLIBC_2.34)`, without needing binutils.
 */
import { readFileSync } from 'node:fs';

const SHT_GNU_VERNEED = 0x6ffffffe;

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  /** sh_info: for the version-needed section, the number of its entries. */
  info: number;
}

/** A 64-bit little-endian ELF file's bytes and its section headers. */
function sectionsOf(path: string): { file: Buffer; sections: Section[] } {
  const file = readFileSync(path);
  if (file.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  if (file[4] !== 2 || file[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF file`);
  const sectionsAt = Number(file.readBigUInt64LE(0x28));
  const sectionSize = file.readUInt16LE(0x3a);
  const sections = Array.from({ length: file.readUInt16LE(0x3c) }, (_, index) => {
    const at = sectionsAt + index * sectionSize;
    return {
      type: file.readUInt32LE(at + 4),
      offset: Number(file.readBigUInt64LE(at + 0x18)),
      size: Number(file.readBigUInt64LE(at + 0x20)),
      link: file.readUInt32LE(at + 0x28),
      info: file.readUInt32LE(at + 0x2c),
    };
  });
  return { file, sections };
}

/** The NUL-terminated string at `offset` in the string table `strings` names. */
const textAt = (file: Buffer, strings: Section, offset: number) => file.toString('latin1', strings.offset + offset, file.indexOf(0, strings.offset + offset));

/** `{ 'libc.so.6': ['GLIBC_2.2.5', …], … }` for a 64-bit little-endian ELF file. */
export function neededVersions(path: string): Record<string, string[]> {
  const { file, sections } = sectionsOf(path);
  const needed: Record<string, string[]> = {};
  for (const verneed of sections.filter((section) => section.type === SHT_GNU_VERNEED)) {
    const strings = sections[verneed.link];
    let entry = verneed.offset;
    for (let n = 0; n < verneed.info; n++) {
      const auxCount = file.readUInt16LE(entry + 2);
      const library = textAt(file, strings, file.readUInt32LE(entry + 4));
      let aux = entry + file.readUInt32LE(entry + 8);
      for (let a = 0; a < auxCount; a++) {
        (needed[library] ??= []).push(textAt(file, strings, file.readUInt32LE(aux + 8)));
        aux += file.readUInt32LE(aux + 12);
      }
      entry += file.readUInt32LE(entry + 12);
    }
  }
  return needed;
}

const SHT_DYNAMIC = 6;
const DT_NEEDED = 1n;

/** The libraries a shared object names as needed (its `DT_NEEDED` entries), in order. */
export function neededLibraries(path: string): string[] {
  const { file, sections } = sectionsOf(path);
  const libraries: string[] = [];
  for (const dynamic of sections.filter((section) => section.type === SHT_DYNAMIC)) {
    const strings = sections[dynamic.link];
    for (let entry = dynamic.offset; entry + 16 <= dynamic.offset + dynamic.size; entry += 16) {
      const tag = file.readBigUInt64LE(entry);
      if (tag === 0n) break;
      if (tag === DT_NEEDED) libraries.push(textAt(file, strings, Number(file.readBigUInt64LE(entry + 8))));
    }
  }
  return libraries;
}

/** Whether `version` is a `GLIBC_x.y[.z]` newer than `floor` (`'2.28'`), compared numerically. */
export function isGlibcNewer(version: string, floor: string): boolean {
  const match = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(version);
  if (!match) return false;
  const [x, y] = [match[1].split('.').map(Number), floor.split('.').map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}
