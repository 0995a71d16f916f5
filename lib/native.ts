/**
 * The native module (the package root's index.js), ready to use: importing this registers the
 * JS classes and functions the native side builds errors and results with, so no native call
 * can run before they are in place.
 */
import * as binding from '../index.js';
import { LibsqlError } from './errors.js';
import { compileRowBuilder, executeResult } from './results.js';

// The native side names its codes as strings; each is a LibsqlErrorCode (src/error.rs's
// ErrorCode, checked against the TypeScript union by __test__/repo/error-codes.test.ts).
binding.registerErrorClass(LibsqlError as new (message: string, code: string, rawCode?: number) => LibsqlError);
binding.registerResultBuilders(compileRowBuilder, executeResult);

export const native = binding;
export type { NativeDatabase } from '../index.js';
