// ioredis (test/node_modules, from test/package.json) through redtun.
//   node ioredis_check.js basic PORT [PASSWORD]
//     SET/GET, a pipeline of 1000, pub/sub, BLPOP (timeout, satisfied),
//     MULTI/EXEC and a WATCH abort; prints "NAME ok|FAIL ...", then
//     "passed N/M"; exit 0 when all passed.
//   node ioredis_check.js a PORT   client A: db 5 and a connection name
//     (ioredis sends SELECT and CLIENT SETNAME itself), CLIENT TRACKING
//     on; prints CLIENT ID and closes the socket (no QUIT).
//   node ioredis_check.js b PORT   client B: prints "id db0 db5 name user"
"use strict";
const Redis = require("ioredis");

const [mode, port, password] = process.argv.slice(2);
const opts = { host: "127.0.0.1", port: Number(port), maxRetriesPerRequest: 0,
  retryStrategy: () => null, enableOfflineQueue: true, connectTimeout: 5000 };
if (password) opts.password = password;
setTimeout(() => { console.log("FAIL: timed out"); process.exit(3); }, 30000).unref();

async function basic() {
  const r = new Redis(opts), r2 = new Redis(opts);
  let ok = 0, all = 0;
  const check = (name, cond, detail) => {
    all++; if (cond) ok++;
    console.log(`${name} ${cond ? "ok" : "FAIL: " + JSON.stringify(detail)}`);
  };
  check("set-get", (await r.set("io:k", "v")) === "OK" && (await r.get("io:k")) === "v");
  const p = r.pipeline();
  for (let i = 0; i < 1000; i++) p.set(`io:p:${i}`, i);
  p.get("io:p:999");
  const res = await p.exec();
  check("pipeline-1000", res.length === 1001 && res.every(([e]) => !e) && res[1000][1] === "999",
    res.slice(-2));
  const sub = new Redis(opts);
  const got = new Promise((resolve) => sub.on("message", (ch, m) => resolve([ch, m])));
  await sub.subscribe("io:ch");
  const n = await r2.publish("io:ch", "hello");
  const msg = await Promise.race([got, new Promise((res) => setTimeout(() => res(null), 5000))]);
  check("pubsub", n === 1 && msg && msg[1] === "hello", { n, msg });
  sub.disconnect();
  await r.del("io:list");
  let t0 = Date.now();
  const v1 = await r.blpop("io:list", 1);
  check("blpop-timeout", v1 === null && Date.now() - t0 >= 800, { v1, ms: Date.now() - t0 });
  setTimeout(() => r2.rpush("io:list", "pushed"), 300);
  t0 = Date.now();
  const v2 = await r.blpop("io:list", 5);
  check("blpop-satisfied", v2 && v2[1] === "pushed" && Date.now() - t0 < 4000, v2);
  const tx = await r.multi().set("io:t", "1").incr("io:t").exec();
  check("multi-exec", tx && tx[1][1] === 2, tx);
  await r.watch("io:t");
  await r2.set("io:t", "changed");
  const aborted = await r.multi().set("io:t", "mine").exec();
  check("watch-abort", aborted === null && (await r.get("io:t")) === "changed", aborted);
  r.disconnect(); r2.disconnect();
  console.log(`passed ${ok}/${all}`);
  return ok === all ? 0 : 1;
}

async function clientA() {
  const r = new Redis({ ...opts, db: 5, connectionName: "alice" });
  const id = await r.client("ID");
  await r.client("TRACKING", "on");
  console.log(id);
  r.disconnect(); // socket close, no QUIT
  return 0;
}

async function clientB() {
  const r = new Redis(opts);
  const out = [await r.client("ID"), await r.get("iso:k0"), await r.get("iso:k5"),
    await r.client("GETNAME"), await r.call("ACL", "WHOAMI")];
  console.log(out.map((x) => (x === null ? "nil" : String(x))).join(" "));
  r.disconnect();
  return 0;
}

({ basic, a: clientA, b: clientB })[mode]().then((rc) => process.exit(rc),
  (e) => { console.log(`FAIL: ${e}`); process.exit(2); });
