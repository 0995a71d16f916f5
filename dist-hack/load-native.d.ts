import type * as NativeBinding from './native-binding.js';
/** Platforms with a prebuilt package (see npm/). */
export declare const PREBUILT_PLATFORMS: readonly ["linux-x64-gnu", "linux-arm64-gnu", "linux-x64-musl", "linux-arm64-musl", "darwin-x64", "darwin-arm64", "win32-x64-msvc"];
export declare function detectPlatform(): string;
export declare const native: typeof NativeBinding;
