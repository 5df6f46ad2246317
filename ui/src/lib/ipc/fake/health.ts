import { AppError } from '../../errors/app-error';
import type { HealthEventDto, HealthPreview, HealthState } from '../../health/types';

/** The pretend health reports' starting point. */
export type FakeHealthSeed = {
  /** Days since the first run (default 0: a new install, not asked yet). */
  firstRunDaysAgo?: number;
  /** The answer already given, if any. */
  enabled?: boolean | null;
  /** Events waiting to be sent. */
  queued?: HealthEventDto[];
  /** The shell has no health commands (an older shell). */
  unsupported?: boolean;
};

const DAY_MS = 24 * 3600 * 1000;

/**
 * The shell's health reports in memory (`health_*` over
 * productivitypro-health): the same question rule (never answered and a
 * week since the first run), off empties the queue, the page's errors are
 * one crash per run and only while on. The fields are the protocol's
 * `TelemetryReport` (crates/protocol/src/telemetry.rs), as the shell's
 * preview lists them for an unbundled Linux build.
 */
export class FakeHealth {
  firstRun: Date;
  enabled: boolean | null;
  queued: HealthEventDto[];
  readonly unsupported: boolean;
  private uiCrashQueued = false;

  constructor(
    seed: FakeHealthSeed,
    private readonly version: string,
    private readonly channel: () => string,
    private readonly now: () => Date,
  ) {
    this.firstRun = new Date(now().getTime() - (seed.firstRunDaysAgo ?? 0) * DAY_MS);
    this.enabled = seed.enabled ?? null;
    this.queued = [...(seed.queued ?? [])];
    this.unsupported = seed.unsupported ?? false;
  }

  state(): HealthState {
    const due = this.now().getTime() - this.firstRun.getTime() >= 7 * DAY_MS;
    return {
      enabled: this.enabled === true,
      ask: this.enabled === null && due,
      decided: this.enabled !== null,
      canSend: true,
    };
  }

  private report(events: HealthEventDto[]) {
    const first = events[0];
    return {
      install_id: '6f1c1f5e-0d0c-4a8e-9d59-3b2f3c1a7e10',
      version: first?.version ?? this.version,
      channel: first?.channel ?? this.channel(),
      os: 'linux',
      arch: 'x86_64',
      token: '(issued by the update service)',
      events: events.map((e) => ({ kind: e.kind, at: e.at })),
    };
  }

  preview(): HealthPreview {
    const example = this.report([
      {
        kind: 'session_start',
        at: this.now()
          .toISOString()
          .replace(/\.\d+Z$/, 'Z'),
        version: this.version,
        channel: this.channel(),
      },
    ]);
    const fields = Object.entries(example).flatMap(([name, value]) =>
      Array.isArray(value)
        ? Object.entries(value[0] ?? {}).map(([k, v]) => ({
            name: `${name}[].${k}`,
            example: String(v),
          }))
        : [{ name, example: String(value) }],
    );
    const groups = new Map<string, HealthEventDto[]>();
    for (const e of this.queued) {
      const key = `${e.version} ${e.channel}`;
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    return {
      fields,
      queued: [...this.queued],
      reports: [...groups.values()].map((g) => JSON.stringify(this.report(g), null, 2)),
    };
  }

  handle(cmd: string, a: Record<string, unknown>): unknown {
    if (this.unsupported) throw new AppError('internal', `unknown command ${cmd}`);
    switch (cmd) {
      case 'health_state':
        return this.state();
      case 'health_set': {
        const keys = Object.keys(a);
        if (typeof a.enabled !== 'boolean' || keys.some((k) => k !== 'enabled'))
          throw new AppError('invalid_argument', 'health_set: `enabled` must be true or false');
        this.enabled = a.enabled;
        if (!a.enabled) this.queued = [];
        return this.state();
      }
      case 'health_preview':
        return this.preview();
      case 'health_ui_error': {
        if (this.enabled !== true || this.uiCrashQueued) return false;
        this.uiCrashQueued = true;
        this.queued.push({
          kind: 'crash',
          at: this.now()
            .toISOString()
            .replace(/\.\d+Z$/, 'Z'),
          version: this.version,
          channel: this.channel(),
        });
        return true;
      }
      default:
        throw new AppError('internal', `unknown command ${cmd}`);
    }
  }
}
