/** Distinct column lists seen; reset when full, so ad-hoc SQL cannot grow it without bound. */
const builders = new Map();
const MAX_BUILDERS = 1000;
export function compileRowBuilder(columns) {
    const key = columns.join('\u0000');
    let build = builders.get(key);
    if (build === undefined) {
        if (builders.size >= MAX_BUILDERS)
            builders.clear();
        const properties = columns.map((name, index) => {
            const quoted = JSON.stringify(name);
            return `${name === '__proto__' ? `[${quoted}]` : quoted}: v[i + ${index}]`;
        });
        const row = `{ ${properties.join(', ')} }`;
        build = new Function('rows', '...v', `if (rows === undefined) rows = [];
      for (let i = 0; i < v.length; i += ${columns.length}) rows.push(${row});
      return rows;`);
        builders.set(key, build);
    }
    return build;
}
