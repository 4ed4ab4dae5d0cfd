// Types of the end-to-end contract (test/e2e/CONTRACT.md): what run-e2e.js hands to each
// dist/test/e2e/*.e2e.js module's run(ctx). Type-only: nothing here is bundled.
import type { Browser, Frame, Page } from 'playwright-core';

/** What a module may return instead of using ctx.check. */
export interface E2eResult {
  passed: number;
  failed: number;
}

/** The helpers of test/e2e/lib/vscode-web.js (see the comments there). */
export interface VscodeWeb {
  launchChromium(): Promise<Browser>;
  watchExternalRequests(page: Page): string[];
  workbenchUrl(baseUrl: string, folder: string, payload?: [string, string][]): string;
  remoteUri(baseUrl: string, absPath: string): string;
  explorerItem(page: Page, name: string): ReturnType<Page['locator']>;
  quickOpen(page: Page, name: string, options?: { attempts?: number }): Promise<number>;
  waitForCommand(page: Page, title: string, options?: { timeoutMs?: number }): Promise<void>;
  runCommand(page: Page, title: string): Promise<void>;
  findWebviewFrame(page: Page, selector: string, timeoutMs?: number): Promise<Frame>;
  explorerContextCommand(
    page: Page,
    name: string,
    label: string,
    options?: { screenshot?: string },
  ): Promise<void>;
  waitForNotification(page: Page, text: string, timeoutMs?: number): Promise<string>;
}

/** Everything a module gets; see the table in CONTRACT.md. */
export interface E2eContext {
  name: string;
  root: string;
  url: string;
  workspace: string;
  workbenchUrl: string;
  runDir: string;
  resultsDir: string;
  cli: string;
  testModels: string;
  web: VscodeWeb;
  newPage(options?: { viewport?: { width: number; height: number } }): Promise<Page>;
  check(name: string, ok: boolean, detail?: string): boolean;
  log(...args: unknown[]): void;
  metric(name: string, value: number, unit: string, target?: string): void;
  /** `big-shrink inspect MODEL --json [...args]`, parsed. */
  inspect(modelPath: string, args?: string[]): Promise<unknown>;
  makeModel(file: string, options: { megabytes: number; external?: boolean }): Promise<void>;
  /** Switch the colour theme live (command palette "Preferences: Color Theme"), e.g. "Default Dark Modern". */
  setColorTheme(page: Page, theme: string): Promise<void>;
  /** Merge keys into the user settings.json; the workbench reads them on the next page load. */
  setUserSettings(settings: Record<string, unknown>): void;
}

/** The one export every e2e module has. */
export type E2eModule = { run(ctx: E2eContext): Promise<E2eResult | void> };
