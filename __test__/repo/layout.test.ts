/**
 * The shape of the code (README, "Layout of this repository"): no import circle between the
 * files of src/ or lib/, the Rust layers import only downward, and no file there is longer
 * than 400 lines — one concern per file, readable in one sitting.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function filesUnder(folder: string, extension: RegExp): string[] {
  return readdirSync(join(ROOT, folder)).flatMap((name) => {
    const path = join(folder, name);
    return statSync(join(ROOT, path)).isDirectory() ? filesUnder(path, extension) : extension.test(name) ? [path] : [];
  });
}

/** A cycle in `edges` (file -> files it imports), as the list of files around it, if any. */
function findCycle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, 'open');
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of edges.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

/** lib/: relative imports (type-only ones included: they are dependencies of the reader too). */
function libImports(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of filesUnder('lib', /\.(c?ts)$/)) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(/from '(\.[^']+)'|import\('(\.[^']+)'\)|require\('(\.[^']+)'\)/g)]
      .map((match) => match[1] ?? match[2] ?? match[3])
      .map((specifier) => relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.c?js$/, '.ts'))
      .filter((target) => target.startsWith('lib'));
    edges.set(file, targets);
  }
  return edges;
}

/** src/: the module each file is (`engine/remote/http.rs` -> `engine::remote::http`) and the modules it names. */
function rustModule(file: string): string {
  return relative('src', file).replace(/(\/mod)?\.rs$/, '').replaceAll('/', '::').replace(/^lib$/, 'crate');
}

function srcImports(): Map<string, string[]> {
  const files = filesUnder('src', /\.rs$/);
  const modules = new Map(files.map((file) => [rustModule(file), file]));
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8').split('#[cfg(test)]')[0];
    const self = rustModule(file).split('::');
    const named = [...text.matchAll(/\b(crate|super(?:::super)*)::([a-z_]+(?:::[a-z_]+)*)/g)].map((match) => {
      const base = match[1] === 'crate' ? [] : self.slice(0, self.length - match[1].split('::').length - (file.endsWith('mod.rs') ? 0 : 0));
      return [...base, ...match[2].split('::')];
    });
    const targets = new Set<string>();
    for (const path of named) {
      // The longest prefix that is a module of ours.
      for (let length = path.length; length > 0; length--) {
        const target = modules.get(path.slice(0, length).join('::'));
        if (target) {
          if (target !== file) targets.add(target);
          break;
        }
      }
    }
    edges.set(file, [...targets]);
  }
  return edges;
}

describe('code layout', () => {
  it('lib/ has no import circle', () => {
    const edges = libImports();
    expect(edges.size).toBeGreaterThan(10);
    expect(findCycle(edges)).toBeUndefined();
  });

  it('src/ has no circle between files, and each layer imports only from the layers below it', () => {
    const edges = srcImports();
    expect(edges.size).toBeGreaterThan(20);
    expect(findCycle(edges)).toBeUndefined();
    const layers = ['error', 'options|values|sql', 'engine', 'js', 'executor', 'api'];
    const layerOf = (file: string) => layers.findIndex((names) => new RegExp(`^src/(${names})(/|\\.rs$)`).test(file));
    const upward = [...edges].flatMap(([file, targets]) =>
      targets.filter((target) => layerOf(target) > layerOf(file) && layerOf(file) >= 0).map((target) => `${file} -> ${target}`),
    );
    expect(upward).toEqual([]);
  });

  it('no file in src/ or lib/ is over 400 lines', () => {
    const long = [...filesUnder('src', /\.rs$/), ...filesUnder('lib', /\.(c?ts)$/)]
      .map((file) => ({ file, lines: readFileSync(join(ROOT, file), 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 400);
    expect(long).toEqual([]);
  });
});
