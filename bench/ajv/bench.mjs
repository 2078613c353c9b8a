// ajv baseline: the same schema (schemas/vum-werkzoekenden.schema.json, entered at Werkzoekende,
// formats checked with ajv-formats) on the same 1000 profiles, each given as a JSON string, so
// ajv pays for JSON.parse as our validator pays for parsing. Prints one JSON line.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";

const [schemaPath, dataPath, seconds = "3"] = process.argv.slice(2);
const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
schema.$ref = "#/$defs/Werkzoekende";
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv, ["date", "email", "uri", "uri-reference"]);
const validate = ajv.compile(schema);
const docs = JSON.parse(readFileSync(dataPath, "utf8")).map((d) => JSON.stringify(d));
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);

function run(parseAndValidate) {
  let n = 0, invalid = 0;
  const end = process.hrtime.bigint() + BigInt(Number(seconds) * 1e9);
  const start = process.hrtime.bigint();
  while (process.hrtime.bigint() < end) {
    for (const d of docs) { if (!parseAndValidate(d)) invalid++; }
    n++;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return { docs_per_s: (n * docs.length) / secs, mb_per_s: (n * bytes) / secs / 1e6, invalid };
}
// warm up the JIT
run((d) => validate(JSON.parse(d)));
const withParse = run((d) => validate(JSON.parse(d)));
const parsed = docs.map((d) => JSON.parse(d));
let i = 0;
const validateOnly = run(() => validate(parsed[i++ % parsed.length]));
const parseOnly = run((d) => JSON.parse(d) !== null);
console.log(JSON.stringify({ docs: docs.length, bytes, ajv_parse_and_validate: withParse, ajv_validate_only: validateOnly, node_json_parse_only: parseOnly }));
