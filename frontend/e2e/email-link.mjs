// Follow a decision link from an e-mail in Debian's Chromium, as its recipient would: open the confirmation
// page, optionally type a comment, press the confirm button, and report both pages (run by
// tests/e2e/test_email_links.py; not a node:test suite).
//
//   node e2e/email-link.mjs <url> [--comment <text>] [--name <screenshot name>] [--no-confirm]
//
// Prints one JSON line: {"confirm": {status, title, text, lang}, "outcome": {status, title, text, lang}};
// screenshots land in artifacts/e2e/<name>-confirm.png and <name>-outcome.png. Both pages are checked for
// serious accessibility problems and for anything the Content-Security-Policy blocked (a failure).
import { parseArgs } from "node:util";
import { launchBrowser, newPage, screenshot } from "./harness.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    comment: { type: "string" },
    name: { type: "string", default: "email-link" },
    "no-confirm": { type: "boolean", default: false },
  },
});
const url = positionals[0];
if (!url) {
  console.error("usage: node e2e/email-link.mjs <url> [--comment <text>] [--name <name>] [--no-confirm]");
  process.exit(2);
}

async function describe(page, response) {
  return {
    status: response ? response.status() : null,
    url: page.url(),
    title: await page.title(),
    lang: await page.locator("html").getAttribute("lang"),
    text: (await page.locator("body").innerText()).replace(/\s+/g, " ").trim(),
  };
}

const browser = await launchBrowser();
try {
  const page = await newPage(browser, new URL(url).origin);
  const first = await page.goto(url);
  const result = { confirm: await describe(page, first) };
  await screenshot(page, `${values.name}-confirm`);
  if (!values["no-confirm"]) {
    const button = page.locator("form button[type=submit]");
    if ((await button.count()) !== 1) throw new Error(`no confirm button on ${url}: ${result.confirm.text}`);
    if (values.comment !== undefined) await page.locator("textarea[name=comment]").fill(values.comment);
    const [answer] = await Promise.all([page.waitForNavigation(), button.click()]);
    result.outcome = await describe(page, answer);
    await screenshot(page, `${values.name}-outcome`);
  }
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
