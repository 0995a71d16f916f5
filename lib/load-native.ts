/**
 * Finds and loads the prebuilt native module for this platform.
 *
 * A development build (`npm run build:native`) leaves `flue-libsql.<platform>.node` in the
 * package root; an installed package gets it from the optional dependency
 * `flue-libsql-<platform>`. When neither loads, the error says what was detected, what
 * exists, and how to build from source — not a stack of loader internals.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as NativeBinding from './native-binding.js';

const require = createRequire(import.meta.url);
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/** Platforms with a prebuilt package (see npm/). */
export const PREBUILT_PLATFORMS = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
] as const;

function isMusl(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !report?.header?.glibcVersionRuntime;
}

export function detectPlatform(): string {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function load(): typeof NativeBinding {
  const platform = detectPlatform();
  const localBuild = `${packageRoot}/flue-libsql.${platform}.node`;
  const attempts: string[] = [];
  const candidates = existsSync(localBuild) ? [localBuild] : [];
  candidates.push(`flue-libsql-${platform}`);
  for (const candidate of candidates) {
    try {
      return require(candidate) as typeof NativeBinding;
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not installed' : (error as Error).message;
      attempts.push(`  ${candidate}: ${reason}`);
    }
  }
  const supported = (PREBUILT_PLATFORMS as readonly string[]).includes(platform);
  throw new Error(
    [
      `flue-libsql could not load its native module for this platform (${platform}, Node ${process.version}).`,
      'Tried:',
      ...attempts,
      supported
        ? `The package flue-libsql-${platform} should have been installed as an optional dependency: reinstall without --no-optional / --omit=optional.`
        : `There is no prebuilt module for ${platform}; prebuilt: ${PREBUILT_PLATFORMS.join(', ')}.`,
      'To build from source: install Rust (rustup) and cmake, then run `npm run build:native` in the flue-libsql package folder.',
    ].join('\n'),
  );
}

export const native = load();
