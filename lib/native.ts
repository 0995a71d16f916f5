/**
 * The native module (the package root's index.js), ready to use: importing this registers the
 * JS classes and functions the native side builds errors and results with, so no native call
 * can run before they are in place.
 */
import * as binding from '../index.js';
import { LibsqlError } from './errors.js';
import { compileRowBuilder, executeResult } from './results.js';

binding.registerErrorClass(LibsqlError);
binding.registerResultBuilders(compileRowBuilder, executeResult);

export const native = binding;
export type { NativeDatabase } from '../index.js';
