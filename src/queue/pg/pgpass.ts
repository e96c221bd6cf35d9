// The password file format of libpq (pure): lines "hostname:port:database:username:password", "*"
// matching anything, "\:" and "\\" escaped, "#" comments; the first line that matches wins
// (PostgreSQL docs, "The Password File"). Written here rather than through pg's built-in pgpass
// support, which pg 8 deprecates and which would read ~/.pgpass behind our back.

export interface PgTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** The password for `target` from the text of a password file, or undefined. */
export function pgpassLookup(text: string, target: PgTarget): string | undefined {
  const wanted = [target.host, String(target.port), target.database, target.user];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = splitFields(line);
    if (fields.length < 5) continue;
    if (wanted.every((w, i) => fields[i] === '*' || fields[i] === w)) return fields.slice(4).join(':');
  }
  return undefined;
}

function splitFields(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) current += line[++i];
    else if (c === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else current += c;
  }
  fields.push(current);
  return fields;
}
