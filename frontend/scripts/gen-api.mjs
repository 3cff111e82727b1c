// Generates the UI's view of the API from openapi.json (the server's own document, written by
// `pflow openapi --output frontend/openapi.json`):
//   src/api/schema.d.ts  the types of every schema, path and operation (openapi-typescript);
//   src/api/limits.ts    the limits the server enforces that the UI repeats in its forms.
// A property with a default is optional to send (defaultNonNullable: false); response schemas mark
// what the server always sends as required.
// Files are rewritten only when their text changes, so an unchanged API leaves builds as they were.
// Run by `npm run build` and `npm run typecheck`; `node scripts/gen-api.mjs --check` only reports.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const specPath = join(root, "openapi.json");
const check = process.argv.includes("--check");
const HEADER = "// Generated from openapi.json by scripts/gen-api.mjs: do not edit. After an API change run\n" +
  "// `pflow openapi --output frontend/openapi.json`, then `npm run build` (or `npm run gen:api`).\n";

const spec = JSON.parse(readFileSync(specPath, "utf-8"));
const schemas = spec.components?.schemas ?? {};

/** `Schema.property.keyword` of the document; a missing one stops the build, naming it. */
function limit(path) {
  const [schema, property, keyword] = path.split(".");
  const value = schemas[schema]?.properties?.[property]?.[keyword];
  if (typeof value !== "number") {
    throw new Error(`openapi.json has no number at components.schemas.${schema}.properties.${property}.${keyword}`);
  }
  return value;
}

const LIMITS = {
  /** characters a ticket's title may have */
  TITLE_MAX: "TicketInput.title.maxLength",
  /** characters a comment (a step's, a withdrawal's, a retry's) may have */
  COMMENT_MAX: "CompleteTask.comment.maxLength",
};

const types = HEADER + astToString(await openapiTS(spec, { alphabetize: true, defaultNonNullable: false }));
const limits = HEADER + Object.entries(LIMITS)
  .map(([name, path]) => `\n/** ${path} */\nexport const ${name} = ${limit(path)};\n`)
  .join("");

let stale = 0;
for (const [file, text] of [["src/api/schema.d.ts", types], ["src/api/limits.ts", limits]]) {
  const path = join(root, file);
  if (existsSync(path) && readFileSync(path, "utf-8") === text) continue;
  stale += 1;
  if (check) console.error(`${file} is not what openapi.json gives: run \`npm run gen:api\``);
  else {
    writeFileSync(path, text);
    console.log(`wrote ${file}`);
  }
}
if (check && stale) process.exit(1);
