/**
 * The CommonJS entry: `require('flue-libsql')`. The package is written as ES modules (Flue
 * itself is ESM-only); Node >= 22.12 loads an ES module graph synchronously through
 * `require()`, so this entry hands CommonJS callers the very same module instance that
 * `import` gives — one `LibsqlError` class, one registry of native handles.
 */
import flueLibsql = require('./index.js');
export = flueLibsql;
