// Typed view of the `e2code.*` settings. Every read goes through here so that defaults and clamping
// live in one place and package.json's `contributes.configuration` is the only other source of truth.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Device, GenerateOptions, IndexOptions } from '../core/protocol';
import { clampThreads } from '../core/runtime/model/threads';

export const SECTION = 'e2code';

export type GenerateApply = 'edit' | 'diff';

export class Config {
  constructor(private readonly extensionPath: string) {}

  private get cfg(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(SECTION);
  }

  /** Absolute bundle directory: the setting if set (relative to the first workspace folder), else the bundled model. */
  get bundlePath(): string {
    const configured = (this.cfg.get<string>('bundlePath') ?? '').trim();
    if (!configured) return this.defaultBundlePath;
    if (path.isAbsolute(configured)) return configured;
    const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? this.extensionPath;
    return path.resolve(base, configured);
  }

  /** Whether the user set a bundle (else the bundled model is used). */
  get bundleChosen(): boolean {
    return (this.cfg.get<string>('bundlePath') ?? '').trim() !== '';
  }

  get defaultBundlePath(): string {
    return path.join(this.extensionPath, 'models', 'default');
  }

  get device(): Device {
    const d = this.cfg.get<string>('device');
    return d === 'cpu' || d === 'cuda' ? d : 'auto';
  }

  /** At most this machine's logical cores (more only slow the model down); the sidecar refuses more. */
  get threads(): number {
    return clampThreads(this.cfg.get<number>('threads'));
  }

  get excludeGlobs(): string[] {
    const globs = this.cfg.get<unknown>('index.exclude');
    return Array.isArray(globs) ? globs.filter((g): g is string => typeof g === 'string' && g.length > 0) : [];
  }

  get maxFileBytes(): number {
    return clampInt(this.cfg.get<number>('index.maxFileBytes'), 1024, 64 * 1024 * 1024, 1024 * 1024);
  }

  /** Milliseconds between the last file event and the re-index it triggers. */
  get refreshDelayMs(): number {
    return clampInt(this.cfg.get<number>('index.refreshDelayMs'), 0, 60_000, 1500);
  }

  /** Undefined: the bundle's trained context size; 0: no repository context (one meaning, as on the wire and the CLI). */
  get contextBudget(): number | undefined {
    const v = this.cfg.get<number | null>('contextBudget');
    return v === null || v === undefined ? undefined : clampInt(v, 0, 1_000_000, 0);
  }

  get hybrid(): boolean {
    return this.cfg.get<boolean>('hybrid') ?? true;
  }

  get temperature(): number {
    const t = this.cfg.get<number>('temperature');
    return typeof t === 'number' && Number.isFinite(t) ? Math.min(2, Math.max(0, t)) : 0;
  }

  get maxTokens(): number {
    return clampInt(this.cfg.get<number>('maxTokens'), 1, 8192, 256);
  }

  /** Default 'diff': generated code is previewed and applied only when accepted. */
  get generateApply(): GenerateApply {
    return this.cfg.get<string>('generate.apply') === 'edit' ? 'edit' : 'diff';
  }

  get indexOptions(): IndexOptions {
    return { excludeGlobs: this.excludeGlobs, maxFileBytes: this.maxFileBytes };
  }

  get generateOptions(): GenerateOptions {
    const budget = this.contextBudget;
    return {
      temperature: this.temperature,
      maxTokens: this.maxTokens,
      hybrid: this.hybrid,
      ...(budget !== undefined ? { contextBudget: budget } : {}),
    };
  }

  /** Settings whose change needs a new sidecar process (it loads the model once). */
  static needsRestart(e: vscode.ConfigurationChangeEvent): boolean {
    return ['bundlePath', 'device', 'threads'].some((k) => e.affectsConfiguration(`${SECTION}.${k}`));
  }

  /** Settings whose change needs a fresh index of every folder. */
  static needsReindex(e: vscode.ConfigurationChangeEvent): boolean {
    return ['index.exclude', 'index.maxFileBytes'].some((k) => e.affectsConfiguration(`${SECTION}.${k}`));
  }

  async setBundlePath(value: string): Promise<void> {
    await this.cfg.update('bundlePath', value, vscode.ConfigurationTarget.Global);
  }
}

function clampInt(v: number | undefined, min: number, max: number, fallback: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(max, Math.max(min, Math.round(v)));
}
