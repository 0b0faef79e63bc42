// The web console in Firefox: each view opened at desktop and laptop widths, and a task accepted.
// Reads GRAPHTASKS_URL, GRAPHTASKS_TENANT and GRAPHTASKS_TASK (a pending task of that tenant) and
// prints one JSON report: per view and width, what the page logged as errors and how far it is wider
// than the window; and the task's status text after Accept.
import puppeteer from "puppeteer-core";

const base = process.env.GRAPHTASKS_URL;
const tenant = process.env.GRAPHTASKS_TENANT;
const taskId = process.env.GRAPHTASKS_TASK;
const WIDTHS = {desktop: {width: 1440, height: 900}, laptop: {width: 1280, height: 720}};
// What each view shows once it has loaded its data.
const READY = {
  "tasks": "table.grid tbody a",
  [`tasks/${taskId}`]: "#properties-title",
  "requests": ".journal li:not([hidden])",
  "apps": "#tenants-title",
  "faults": "textarea#plan",
};

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX ?? "/usr/bin/firefox-esr",
  headless: true,
});
const report = {browser: await browser.version(), views: [], accepted: null};
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error.message ?? error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  for (const [width, viewport] of Object.entries(WIDTHS)) {
    await page.setViewport(viewport);
    for (const [view, ready] of Object.entries(READY)) {
      errors.length = 0;
      await page.goto(`${base}/console?tenant=${tenant}#/${view}`);
      await page.waitForSelector(ready, {visible: true, timeout: 15000});
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      report.views.push({view: view.split("/")[0], width, errors: [...errors], overflow});
    }
  }
  await page.goto(`${base}/console?tenant=${tenant}#/tasks/${taskId}`);
  await page.waitForSelector("#task-status", {visible: true, timeout: 15000});
  await page.locator("::-p-aria(Accept[role=\"button\"])").click();
  await page.waitForFunction(
    () => document.querySelector("#task-status")?.textContent === "This task is active.", {timeout: 15000});
  report.accepted = await page.$eval("#task-status", (element) => element.textContent);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
