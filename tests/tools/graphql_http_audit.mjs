// Runs the graphql-http package's server audits (the GraphQL over HTTP spec's test
// suite) against a running server and prints one JSON line per audit:
//   {"id": "22EB", "name": "SHOULD ...", "status": "ok" | "warn" | "notice" | "error", "reason": ...}
//
//   node tests/tools/graphql_http_audit.mjs DIR URL
//
// DIR is an npm prefix holding node_modules/graphql-http (npm install --prefix DIR
// graphql-http), URL the GraphQL endpoint. Exits 0 when every audit ran (whatever its
// result; the caller judges), 2 on bad arguments or a missing package.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';

const [dir, url] = process.argv.slice(2);
if (!dir || !url) {
  console.error('usage: node graphql_http_audit.mjs DIR URL');
  process.exit(2);
}
const entry = join(dir, 'node_modules', 'graphql-http', 'lib', 'index.mjs');
if (!existsSync(entry)) {
  console.error(`graphql-http is not installed in ${dir} (npm install --prefix ${dir} graphql-http)`);
  process.exit(2);
}
const { serverAudits } = await import(pathToFileURL(entry).href);
for (const { fn } of serverAudits({ url })) {
  const result = await fn(); // one at a time: the server is small and shared
  let body;
  if (result.response) {
    try {
      body = (await result.response.text()).slice(0, 300);
    } catch {
      body = undefined;
    }
  }
  console.log(
    JSON.stringify({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.reason,
      httpStatus: result.response ? result.response.status : undefined,
      contentType: result.response ? result.response.headers.get('content-type') : undefined,
      body,
    }),
  );
}
