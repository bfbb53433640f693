// The dashboard in headless Chromium: log in through the page's form, wait for the chart and
// tables, and check what they show against what the caller expects.
//
// Usage: node tests/browser/dashboard.mjs EXPECTATIONS_JSON
// EXPECTATIONS_JSON: {url, account_name, username, password, screenshot,
//   config: {pointer: [value, source]}, days: {"YYYY-MM-DD": [successes, failures]},
//   top_ip: [ip, attempts, failures, successes]}
// Exits 0 when everything matches, 1 with the reasons otherwise.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

const expect = JSON.parse(process.argv[2]);
const failures = [];
const check = (ok, message) => { if (!ok) failures.push(message); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const consoleErrors = [];
  const foreign = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("request", (r) => {
    const host = new URL(r.url()).hostname;
    if (!["127.0.0.1", "localhost", "[::1]"].includes(host)) foreign.push(r.url());
  });

  const response = await page.goto(expect.url);
  check(response.status() === 200, `page answered ${response.status()}`);
  check(!response.url().includes("auth_token"), "token in the page URL");
  await page.fill("#account-name", expect.account_name);
  await page.fill("#username", expect.username);
  await page.fill("#password", expect.password);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("body[data-loaded=true]", { timeout: 20000 })
    .catch(async (e) => {
      const shown = await page.textContent("#error");
      throw new Error(`dashboard did not load: ${shown || e.message}`);
    });
  await page.waitForSelector("#chart svg g.day");
  await page.waitForSelector("#ips tbody tr");
  check(!page.url().includes("auth_token"), "token in the URL after login");

  const configRows = await page.$$eval("#config tbody tr", (rows) => rows.map((r) =>
    [...r.querySelectorAll("td")].map((td) => td.textContent)));
  const config = new Map(configRows.map(([path, value, source]) => [path, [value, source]]));
  for (const [path, [value, source]] of Object.entries(expect.config)) {
    const got = config.get(path);
    check(got && got[0] === JSON.stringify(value) && got[1] === source,
      `config ${path}: expected ${JSON.stringify(value)} from ${source}, ` +
      `got ${JSON.stringify(got)}`);
  }

  const days = await page.$$eval("#chart g.day", (groups) => groups.map((g) => ({
    date: g.dataset.date, ok: Number(g.dataset.successes), failed: Number(g.dataset.failures),
    bars: [...g.querySelectorAll("rect")].map((r) => [r.getAttribute("class"),
      Number(r.dataset.count), Number(r.getAttribute("height"))]),
  })));
  check(days.length === 31, `expected 31 days in the chart, got ${days.length}`);
  const byDate = new Map(days.map((d) => [d.date, d]));
  for (const d of days) {
    const [ok, failed] = expect.days[d.date] || [0, 0];
    check(d.ok === ok && d.failed === failed,
      `day ${d.date}: expected ${ok}/${failed}, chart has ${d.ok}/${d.failed}`);
    const bars = Object.fromEntries(d.bars.map(([cls, n, h]) => [cls, [n, h]]));
    check((bars.ok?.[0] || 0) === ok && (bars.failed?.[0] || 0) === failed,
      `day ${d.date}: bars ${JSON.stringify(d.bars)}`);
    for (const [, n, h] of d.bars) check(h > 0 && n > 0, `empty bar on ${d.date}`);
  }
  for (const date of Object.keys(expect.days)) check(byDate.has(date), `no day ${date}`);

  const ips = await page.$$eval("#ips tbody tr", (rows) => rows.map((r) =>
    [...r.querySelectorAll("td")].map((td) => td.textContent)));
  const top = expect.top_ip.map(String);
  check(JSON.stringify(ips[0]) === JSON.stringify(top),
    `top IP: expected ${JSON.stringify(top)}, got ${JSON.stringify(ips[0])}`);

  check(consoleErrors.length === 0, `console errors: ${consoleErrors.join(" | ")}`);
  check(foreign.length === 0, `requests to other hosts: ${foreign.join(", ")}`);

  mkdirSync(dirname(expect.screenshot), { recursive: true });
  await page.screenshot({ path: expect.screenshot, fullPage: true });
  console.log(`dashboard screenshot: ${expect.screenshot}`);
} catch (error) {
  failures.push(String(error && error.stack || error));
} finally {
  await browser.close();
}
if (failures.length > 0) {
  console.error(failures.join("\n"));
  process.exit(1);
}
