// ioredis Cluster (test/node_modules, from test/package.json) for the
// cluster tests.
//   node cluster_ioredis.js writer PORT OUT SECONDS
// Writes iofo:N = N (N = 0, 1, ...) through 127.0.0.1:PORT until SECONDS
// pass or OUT.stop exists, retrying a failed write with the same N after
// 20 ms; OUT gets "ok N T" / "err N T MESSAGE" lines (T in seconds since
// the epoch), like cluster_clients.py writer.
//   node cluster_ioredis.js PORT [CAFILE HOST]
// Enters the cluster at 127.0.0.1:PORT (through redtun), or with CAFILE at
// HOST:PORT over TLS (the harness check), with scaleReads: "slave": writes
// 300 keys, reads them back (from replicas), a pipeline per key; prints
// "NAME ok|FAIL ...", "nodes master|slave HOST:PORT ...", then "passed N/M";
// exit 0 when all passed.
"use strict";
const fs = require("fs");
const Redis = require("ioredis");

if (process.argv[2] === "writer") {
  const [, wport, out, secs] = process.argv.slice(2);
  const c = new Redis.Cluster([{ host: "127.0.0.1", port: Number(wport) }], {
    redisOptions: { connectTimeout: 2000, maxRetriesPerRequest: 1 },
    retryDelayOnClusterDown: 100, retryDelayOnFailover: 100, retryDelayOnTryAgain: 100,
    clusterRetryStrategy: () => 200,
  });
  c.on("error", () => {});
  const end = Date.now() + Number(secs) * 1000;
  const now = () => (Date.now() / 1000).toFixed(3);
  (async () => {
    let i = 0;
    while (Date.now() < end && !fs.existsSync(out + ".stop")) {
      try {
        const r = await c.set(`iofo:${i}`, String(i));
        if (r === "OK") {
          // Then WAIT on the key's node (a pipeline anchored by the key):
          // a write no replica confirmed within 100 ms ("okn") may be lost
          // to kill -9 by Redis itself, and is not checked afterwards.
          let rep = 0;
          try {
            const res = await c.pipeline().exists(`iofo:${i}`).wait(1, 100).exec();
            if (!res[1][0]) rep = Number(res[1][1]);
          } catch (e) { rep = 0; }
          fs.appendFileSync(out, `${rep > 0 ? "ok" : "okn"} ${i} ${now()}\n`);
          i++;
          continue;
        }
        fs.appendFileSync(out, `err ${i} ${now()} reply ${r}\n`);
      } catch (e) {
        fs.appendFileSync(out, `err ${i} ${now()} ${String(e.message || e).replace(/\n/g, " ").slice(0, 200)}\n`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    fs.appendFileSync(out, `end ${i} ${now()}\n`);
    c.disconnect();
    process.exit(0);
  })();
  return;
}
const [port, cafile, host] = process.argv.slice(2);
const redisOptions = { connectTimeout: 5000, maxRetriesPerRequest: 2 };
if (cafile) redisOptions.tls = { ca: fs.readFileSync(cafile), servername: host };
setTimeout(() => { console.log("FAIL: timed out"); process.exit(3); }, 40000).unref();

async function main() {
  const c = new Redis.Cluster([{ host: host || "127.0.0.1", port: Number(port) }], {
    scaleReads: "slave", redisOptions, slotsRefreshTimeout: 5000,
    clusterRetryStrategy: (n) => (n > 5 ? null : 200),
    // Straight to the nodes over TLS, the host names must be kept.
    dnsLookup: (address, cb) => cb(null, address),
  });
  let ok = 0, all = 0;
  const check = (name, cond, detail) => {
    all++; if (cond) ok++;
    console.log(`${name} ${cond ? "ok" : "FAIL: " + JSON.stringify(detail)}`);
  };
  const n = 300;
  const sets = await Promise.all([...Array(n).keys()].map((i) => c.set(`io:${i}`, `v${i}`)));
  check("set", sets.every((r) => r === "OK"), sets.filter((r) => r !== "OK").slice(0, 3));
  // Replicas are asynchronous: wait until the last key is readable there.
  let last = null;
  for (let t = 0; t < 50 && last !== `v${n - 1}`; t++) {
    last = await c.get(`io:${n - 1}`);
    if (last !== `v${n - 1}`) await new Promise((r) => setTimeout(r, 100));
  }
  const gets = await Promise.all([...Array(n).keys()].map((i) => c.get(`io:${i}`)));
  const bad = gets.map((v, i) => [i, v]).filter(([i, v]) => v !== `v${i}`);
  check("get-from-replicas", bad.length === 0, bad.slice(0, 3));
  const res = await c.pipeline().set("{io}x", "1").incr("{io}x").get("{io}x").exec();
  check("pipeline", res && res[2][1] === "2", res);
  const masters = c.nodes("master").map((r) => `${r.options.host}:${r.options.port}`).sort();
  const slaves = c.nodes("slave").map((r) => `${r.options.host}:${r.options.port}`).sort();
  console.log(`nodes master ${masters.join(" ")}`);
  console.log(`nodes slave ${slaves.join(" ")}`);
  check("three-masters", masters.length >= 3, masters);
  check("three-slaves", slaves.length >= 3, slaves);
  c.disconnect();
  console.log(`passed ${ok}/${all}`);
  return ok === all ? 0 : 1;
}

main().then((rc) => process.exit(rc), (e) => { console.log("FAIL: " + e); process.exit(1); });
