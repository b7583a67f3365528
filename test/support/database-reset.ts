// Puts a test database back to the state the migrations left it in, so that one database can serve
// every test of a file: emptying a few tables costs milliseconds, a fresh copy of the template up to
// a second of CPU (PGlite) or a CREATE DATABASE (server). Everything is read from the catalog, so new
// migrations need no change here. A database whose schema a test changed (a trigger left behind, a
// function, a column) is not reset but replaced: `schemaFingerprint` tells the two apart.

/** Runs one SQL statement and returns its rows (PGlite's `query`, or a node-postgres client's). */
export type Sql = (text: string) => Promise<Array<Record<string, unknown>>>;

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'`;

/**
 * Every schema object a test could add, drop or change, as one hash: relations and their columns,
 * constraints, indexes, triggers, functions, types, extensions, column defaults and policies.
 */
const FINGERPRINT = `
SELECT md5(string_agg(x, E'\\n' ORDER BY x)) AS fingerprint FROM (
  SELECT 'rel ' || c.relkind::text || ' ' || c.oid::regclass::text AS x
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'col ' || a.attrelid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
         || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE ${USER_SCHEMAS} AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'con ' || con.conrelid::regclass::text || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
    FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'idx ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'trg ' || t.tgrelid::regclass::text || ' ' || t.tgname || ' ' || t.tgenabled::text
    FROM pg_trigger t WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'fn ' || p.oid::regprocedure::text || ' ' || md5(coalesce(p.prosrc, ''))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'type ' || t.oid::regtype::text
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE ${USER_SCHEMAS}
  UNION ALL
  SELECT 'ext ' || e.extname || ' ' || e.extversion FROM pg_extension e
  UNION ALL
  SELECT 'pol ' || p.polrelid::regclass::text || ' ' || p.polname FROM pg_policy p
  UNION ALL
  SELECT 'rls ' || c.oid::regclass::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS} AND c.relrowsecurity
) objects`;

export async function schemaFingerprint(sql: Sql): Promise<string> {
  const [row] = await sql(FINGERPRINT);
  return String(row?.fingerprint);
}

/** What a freshly migrated database looks like: read once per file from its first database. */
export interface PristineState {
  fingerprint: string;
  /** Tables the migrations leave empty (all but `_prisma_migrations` today): a reset empties these. */
  tables: string[];
  /** Tables the migrations put rows in, with a hash of their rows: a reset checks they are unchanged. */
  seeded: Array<{ table: string; rows: string }>;
}

export async function readPristineState(sql: Sql): Promise<PristineState> {
  const rows = await sql(`
    SELECT c.oid::regclass::text AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND ${USER_SCHEMAS}
     ORDER BY 1`);
  const all = rows.map((r) => String(r.name));
  const filled = all.length ? (await sql(anyRows(all))).map((r) => String(r.name)) : [];
  const seeded = [];
  for (const table of filled) seeded.push({ table, rows: await rowsHash(sql, table) });
  return {
    fingerprint: await schemaFingerprint(sql),
    tables: all.filter((t) => !filled.includes(t)),
    seeded,
  };
}

async function rowsHash(sql: Sql, table: string): Promise<string> {
  const [row] = await sql(
    `SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) AS h FROM ${table} r`,
  );
  return String(row?.h);
}

/** The tables of `names` that hold at least one row, in one statement. */
function anyRows(names: string[]): string {
  return names
    .map((t) => `SELECT ${quoteLiteral(t)} AS name WHERE EXISTS (SELECT 1 FROM ${t})`)
    .join(" UNION ALL ");
}

function quoteLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * Empties what the tests wrote and restarts every sequence they advanced. Returns false (and
 * changes nothing) when the database cannot be brought back this way: its schema differs from the
 * migrations' (a test added a trigger or a function, say) or rows the migrations wrote were changed. The caller then replaces the database with a fresh copy.
 */
export async function resetDatabase(sql: Sql, pristine: PristineState): Promise<boolean> {
  if ((await schemaFingerprint(sql)) !== pristine.fingerprint) return false;
  // Rows the migrations wrote (`_prisma_migrations`) that a test changed cannot be put back here.
  for (const { table, rows } of pristine.seeded) if ((await rowsHash(sql, table)) !== rows) return false;
  const dirty = pristine.tables.length
    ? (await sql(anyRows(pristine.tables))).map((r) => String(r.name))
    : [];
  if (dirty.length) await sql(`TRUNCATE ${dirty.join(", ")} RESTART IDENTITY CASCADE`);
  // Sequences advanced by tables that are empty again (rows deleted), or not owned by any table.
  const used = await sql(`
    SELECT format('%I.%I', schemaname, sequencename) AS name, start_value::text AS start
      FROM pg_sequences WHERE last_value IS NOT NULL`);
  for (const s of used) await sql(`SELECT setval(${quoteLiteral(String(s.name))}, ${s.start}, false)`);
  return true;
}
