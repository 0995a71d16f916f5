/**
 * Finds and loads the prebuilt native module for this platform.
 *
 * A development build (`npm run build:native`) leaves `flue-libsql.<platform>.node` in the
 * package root; an installed package gets it from the optional dependency
 * `flue-libsql-<platform>`. When neither loads, the error says what was detected, what
 * exists, and how to build from source — not a stack of loader internals.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
];
function isMusl() {
    const report = process.report?.getReport();
    return !report?.header?.glibcVersionRuntime;
}
export function detectPlatform() {
    const { platform, arch } = process;
    if (platform === 'linux')
        return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
    if (platform === 'win32')
        return `win32-${arch}-msvc`;
    return `${platform}-${arch}`;
}
/** The first line of a failed `require()`'s message (not its "Require stack"), or "not installed". */
function reasonOf(error, candidate) {
    const { code, message } = error;
    if (code === 'MODULE_NOT_FOUND' && message.includes(`'${candidate}'`))
        return 'not installed';
    return (message ?? String(error)).split('\n')[0];
}
function packageVersion() {
    try {
        return JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version;
    }
    catch {
        return 'unknown';
    }
}
function load() {
    const platform = detectPlatform();
    const localBuild = join(packageRoot, `flue-libsql.${platform}.node`);
    const prebuilt = `flue-libsql-${platform}`;
    const attempts = [];
    if (!existsSync(localBuild))
        attempts.push(`  ${localBuild}: no such file (a build from source puts it there)`);
    for (const candidate of existsSync(localBuild) ? [localBuild, prebuilt] : [prebuilt]) {
        try {
            return require(candidate);
        }
        catch (error) {
            attempts.push(`  ${candidate}: ${reasonOf(error, candidate)}`);
        }
    }
    const supported = PREBUILT_PLATFORMS.includes(platform);
    // An installed package has no Rust sources: building means a checkout of the repository.
    const checkout = existsSync(join(packageRoot, 'Cargo.toml'));
    throw new Error([
        `flue-libsql could not load its native module for this platform (${platform}, Node ${process.version}).`,
        'Tried:',
        ...attempts,
        supported
            ? `The package ${prebuilt} should have been installed as an optional dependency: reinstall without --no-optional / --omit=optional (and do not copy node_modules between platforms).`
            : `There is no prebuilt module for ${platform}; prebuilt: ${PREBUILT_PLATFORMS.join(', ')}.`,
        checkout
            ? `To build from source: install Rust (rustup) and cmake, then run \`npm run build:native\` in ${packageRoot}`
            : `To build from source: install Rust (rustup) and cmake, check out the flue-libsql repository at version ${packageVersion()}, run \`npm install && npm run build:native\` in it, and copy the flue-libsql.${platform}.node it builds to ${localBuild}`,
    ].join('\n'));
}
export const native = load();
