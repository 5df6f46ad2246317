import { AppError } from '../../errors/app-error';
import type {
  UpdateChannel,
  UpdateError,
  UpdateOfferDto,
  UpdatePhase,
  UpdateProgress,
  UpdateState,
} from '../../updates/types';

/** What the pretend update service answers a check with, per channel. */
export type FakeUpdateService = {
  /** The offer per channel; absent = up to date on that channel. */
  offers?: Partial<Record<UpdateChannel, UpdateOfferDto>>;
  /** The next check fails with this code (`update_offline`, `update_server`). */
  failCheck?: string | null;
  /** The next download fails with this code when its last byte arrives (`update_signature_invalid`, …). */
  failDownload?: string | null;
  /** The next install fails with this code (`update_install_failed`). */
  failInstall?: string | null;
};

export type FakeUpdateSeed = FakeUpdateService & {
  /** The running version (default: app_status's). */
  current?: string;
  /** Updates cannot run in this build: `update_unavailable`. */
  unavailable?: boolean;
  /** Installing asks for the administrator password (Linux deb/rpm). */
  needsPrivilege?: boolean;
  /** Milliseconds between download progress events (the shell sends ≤ 5 a second). */
  tickMs?: number;
  /** How many progress events a download takes. */
  ticks?: number;
  /** Progress events carry no total (a server that sent no Content-Length). */
  unknownTotal?: boolean;
  /** Downloads wait for `step()` instead of a timer (tests that look mid-way). */
  manual?: boolean;
};

/** The backoff after the n-th failure in a row, in minutes (the shell's schedule). */
const BACKOFF_MINUTES = [5, 15, 60, 240];

export function fakeOffer(version: string, more: Partial<UpdateOfferDto> = {}): UpdateOfferDto {
  return {
    version,
    notes: `## What's new in ${version}\n\n- Faster start\n- Fixes a crash when **pasting** long notes`,
    pubDate: '2026-11-29T12:00:00Z',
    rollback: false,
    downloadSize: 12_400_000,
    fullSize: 12_400_000,
    delta: false,
    ...more,
  };
}

/**
 * The updater in memory (the shell's `update_*` commands over
 * tauri-plugin-updater and the update service): the same phases in the same
 * order, the same refusals and codes, progress as timed `update://state`
 * events — so the notice and Settings → Updates can be driven without a
 * service. Tests script the service (`script`) and may drive downloads step
 * by step (`manual` + `step`).
 */
export class FakeUpdater {
  phase: UpdatePhase;
  current: string;
  channel: UpdateChannel;
  offer: UpdateOfferDto | null = null;
  progress: UpdateProgress | null = null;
  error: UpdateError | null = null;
  lastChecked: string | null = null;
  nextRetryAt: string | null = null;
  needsPrivilege: boolean;
  service: FakeUpdateService;
  /** Versions `update_later` put off (the shell keeps them until restart). */
  readonly putOff = new Set<string>();
  /** Versions `update_install` installed (the "restart" that followed). */
  readonly installed: string[] = [];
  /** Failures in a row (drives the backoff). */
  failures = 0;
  checks = 0;
  private ticksDone = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly tickMs: number;
  private readonly ticks: number;
  private readonly unknownTotal: boolean;
  manual: boolean;

  constructor(
    seed: FakeUpdateSeed,
    defaults: { current: string; channel: UpdateChannel },
    private readonly now: () => Date,
    /** Sends `update://state` (the backend's event channel). */
    private readonly emit: (s: UpdateState) => void,
  ) {
    this.current = seed.current ?? defaults.current;
    this.channel = defaults.channel;
    this.phase = seed.unavailable ? 'unavailable' : 'idle';
    if (seed.unavailable)
      this.error = { code: 'update_unavailable', message: 'no updater public key in this build' };
    this.needsPrivilege = seed.needsPrivilege ?? false;
    this.tickMs = seed.tickMs ?? 200;
    this.ticks = Math.max(1, seed.ticks ?? 5);
    this.unknownTotal = seed.unknownTotal ?? false;
    this.manual = seed.manual ?? false;
    this.service = {
      offers: seed.offers ?? {},
      failCheck: seed.failCheck ?? null,
      failDownload: seed.failDownload ?? null,
      failInstall: seed.failInstall ?? null,
    };
  }

  state(): UpdateState {
    return structuredClone({
      phase: this.phase,
      current: this.current,
      channel: this.channel,
      offer: this.offer,
      progress: this.progress,
      error: this.error,
      lastChecked: this.lastChecked,
      nextRetryAt: this.nextRetryAt,
      needsPrivilege: this.needsPrivilege,
    });
  }

  /** Changes what the pretend service answers from now on. */
  script(service: FakeUpdateService) {
    this.service = { ...this.service, ...service };
  }

  /** The settings' channel changed: the next check asks that channel. */
  setChannel(channel: UpdateChannel) {
    if (channel === this.channel) return;
    this.channel = channel;
    this.changed();
  }

  private changed() {
    this.emit(this.state());
  }

  private busy() {
    if (this.phase === 'unavailable')
      throw new AppError('update_unavailable', 'updates cannot run in this build');
    if (this.phase === 'checking' || this.phase === 'downloading' || this.phase === 'installing')
      throw new AppError('update_in_progress', `the updater is ${this.phase}`);
  }

  private fail(code: string, message: string) {
    this.failures += 1;
    const minutes =
      BACKOFF_MINUTES[Math.min(this.failures, BACKOFF_MINUTES.length) - 1] ?? BACKOFF_MINUTES[0];
    this.phase = 'failed';
    this.progress = null;
    this.error = { code, message };
    this.nextRetryAt = new Date(this.now().getTime() + (minutes ?? 5) * 60_000).toISOString();
  }

  /**
   * A check, on demand or automatic (the shell's timer; tests call it to
   * stand for one): `checking`, then `available` / `upToDate` / `failed`.
   */
  async check(): Promise<UpdateState> {
    this.busy();
    const wasReady = this.phase === 'ready';
    this.checks += 1;
    this.phase = 'checking';
    this.error = null;
    this.changed();
    // The answer comes back on a later task, like the service's.
    await Promise.resolve();
    const failure = this.service.failCheck ?? null;
    if (failure) {
      this.service.failCheck = null;
      // A service that answered with an error was reached.
      if (failure !== 'update_offline') this.lastChecked = this.now().toISOString();
      this.fail(
        failure,
        failure === 'update_offline' ? 'error sending request: connection refused' : 'HTTP 503',
      );
      this.offer = null;
      this.changed();
      return this.state();
    }
    this.lastChecked = this.now().toISOString();
    this.failures = 0;
    this.nextRetryAt = null;
    const offer = this.service.offers?.[this.channel] ?? null;
    const downloaded = wasReady && offer?.version === this.offer?.version;
    this.offer = offer ? structuredClone(offer) : null;
    // A download already verified for the same version is kept.
    this.phase = downloaded ? 'ready' : this.offer ? 'available' : 'upToDate';
    this.changed();
    return this.state();
  }

  download(): UpdateState {
    this.busy();
    if (this.phase === 'ready') return this.state();
    if (!this.offer) throw new AppError('update_no_offer', 'there is no update to download');
    this.phase = 'downloading';
    this.error = null;
    this.nextRetryAt = null;
    this.ticksDone = 0;
    this.progress = {
      received: 0,
      total: this.unknownTotal ? null : this.offer.downloadSize,
      bytesPerSecond: 0,
    };
    this.changed();
    this.schedule();
    return this.state();
  }

  private schedule() {
    if (this.manual || this.phase !== 'downloading') return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.step();
    }, this.tickMs);
  }

  /** One progress event of the running download (automatic unless `manual`). */
  step() {
    if (this.phase !== 'downloading' || !this.offer || !this.progress) return;
    this.ticksDone += 1;
    const size = this.offer.downloadSize;
    const received = Math.min(size, Math.round((size * this.ticksDone) / this.ticks));
    this.progress = {
      received,
      total: this.progress.total,
      bytesPerSecond: Math.round(((size / this.ticks) * 1000) / this.tickMs),
    };
    if (received < size) {
      this.changed();
      this.schedule();
      return;
    }
    const failure = this.service.failDownload ?? null;
    if (failure) {
      this.service.failDownload = null;
      this.fail(failure, 'minisign: signature verification failed');
    } else {
      this.phase = 'ready';
      this.progress = null;
      this.failures = 0;
    }
    this.changed();
  }

  install(): null {
    if (this.phase !== 'ready')
      throw new AppError('update_not_ready', `nothing downloaded to install (${this.phase})`);
    const offer = this.offer;
    this.phase = 'installing';
    this.changed();
    const failure = this.service.failInstall ?? null;
    if (failure) {
      this.service.failInstall = null;
      this.fail(failure, 'pkexec: authentication dismissed');
      this.changed();
      return null;
    }
    // The real shell restarts into the new version here; the fake stays in
    // `installing` (the window would be gone) and records what it installed.
    if (offer) this.installed.push(offer.version);
    return null;
  }

  later(): UpdateState {
    if (this.offer) this.putOff.add(this.offer.version);
    return this.state();
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  handle(cmd: string): unknown {
    switch (cmd) {
      case 'update_state':
        return this.state();
      case 'update_check':
        return this.check();
      case 'update_download':
        return this.download();
      case 'update_install':
        return this.install();
      case 'update_later':
        return this.later();
    }
    throw new AppError('invalid_argument', `unknown command ${cmd}`);
  }
}
