// Prints the gzip size of the built UI's JS and CSS (what the window loads)
// and fails above the budget (issue 7: ≤ 150 KB). Also checks that the
// in-memory fake backend was compiled out of the release build.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = 150_000;
const dist = new URL('../dist/', import.meta.url).pathname;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

let raw = 0;
let gz = 0;
for (const f of files(dist)
  .filter((p) => /\.(js|css)$/.test(p))
  .sort()) {
  const body = readFileSync(f);
  const z = gzipSync(body, { level: 9 }).length;
  raw += body.length;
  gz += z;
  console.log(
    `${f.slice(dist.length).padEnd(40)} ${String(body.length).padStart(8)} B  gzip ${String(z).padStart(7)} B`,
  );
  if (body.includes('Generated task') || body.includes('FakeVault')) {
    console.error(
      `size: ${f} contains the fake backend; it must be compiled out of release builds`,
    );
    process.exit(1);
  }
}
console.log(
  `UI JS+CSS total: ${raw} B raw, ${gz} B gzip (${(gz / 1000).toFixed(1)} kB; budget ${BUDGET / 1000} kB)`,
);
if (gz > BUDGET) {
  console.error('size: over budget');
  process.exit(1);
}
