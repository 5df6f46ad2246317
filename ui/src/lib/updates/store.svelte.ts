import { AppError } from '../errors/app-error';
import type { Backend, Unlisten } from '../ipc/backend';
import type { UpdateState } from './types';

/** What the notice shows; null: nothing (the notice is not in the page). */
export type NoticeKind =
  'available' | 'rollback' | 'downloading' | 'ready' | 'installing' | 'failed';

export type UpdateAction = 'check' | 'download' | 'install' | 'later';

/** Before the shell answered (and for shells without an updater). */
export const INITIAL_UPDATE_STATE: UpdateState = {
  phase: 'idle',
  current: '',
  channel: 'stable',
  offer: null,
  progress: null,
  error: null,
  lastChecked: null,
  nextRetryAt: null,
  needsPrivilege: false,
};

/**
 * The shell's updater: read once with `update_state`, then kept current by
 * `update://state`. The commands go through here so the notice, Settings →
 * Updates and the palette agree on what is happening. Which versions were
 * put off with "Later" is remembered here too (for this window's life, like
 * the shell's), so the notice hides whatever the shell answers.
 */
export class UpdateStore {
  state = $state.raw<UpdateState>(INITIAL_UPDATE_STATE);
  /** False when the shell has no updater (an older shell): nothing to show or do. */
  supported = $state(true);
  /** The command on its way, if any. */
  busy = $state<UpdateAction | null>(null);
  /** A refused command (`update_in_progress`, `update_not_ready`, …), shown where it was asked. */
  error = $state.raw<AppError | null>(null);
  /**
   * The person asked for something (check, download, install) since the
   * last "Later": a failure with no offer is worth the notice then, not
   * when a background check merely found the service offline.
   */
  asked = $state(false);
  private putOff = $state.raw<readonly string[]>([]);
  /** Counts `update://state` events, to tell a command's answer from newer news. */
  private events = 0;
  private unlisten: Unlisten | null = null;
  private started: Promise<void> | null = null;

  readonly notice = $derived.by((): NoticeKind | null => {
    const s = this.state;
    const hidden = s.offer !== null && this.putOff.includes(s.offer.version);
    switch (s.phase) {
      case 'available':
        if (!s.offer || hidden) return null;
        return s.offer.rollback ? 'rollback' : 'available';
      case 'downloading':
        return 'downloading';
      case 'ready':
        return hidden ? null : 'ready';
      case 'installing':
        return 'installing';
      case 'failed':
        if (s.offer) return hidden ? null : 'failed';
        return this.asked ? 'failed' : null;
      default:
        return null;
    }
  });

  /** Received share of the download, 0–100, or null when the total is unknown. */
  readonly percent = $derived.by((): number | null => {
    const p = this.state.progress;
    if (!p || p.total === null || p.total <= 0) return null;
    return Math.min(100, Math.floor((p.received / p.total) * 100));
  });

  constructor(private readonly backend: Backend) {}

  start(): Promise<void> {
    this.started ??= (async () => {
      this.unlisten = await this.backend.on('update://state', (s) => {
        this.events += 1;
        this.state = s;
      });
      try {
        const seen = this.events;
        const s = await this.backend.call('update_state');
        if (this.events === seen) this.state = s;
        this.supported = true;
      } catch {
        // A shell without the updater: the UI offers nothing about updates.
        this.supported = false;
      }
    })();
    return this.started;
  }

  stop() {
    this.unlisten?.();
    this.unlisten = null;
    this.started = null;
  }

  private async run(
    action: UpdateAction,
    call: () => Promise<UpdateState | null>,
  ): Promise<UpdateState | null> {
    this.busy = action;
    this.error = null;
    try {
      const seen = this.events;
      const s = await call();
      // The shell sends every change as an event too, and events and answers
      // travel apart: an event that came meanwhile is as new as the answer
      // or newer (a download's progress), so the answer must not undo it.
      if (s && this.events === seen) this.state = s;
      return s;
    } catch (e) {
      this.error = AppError.from(e);
      return null;
    } finally {
      this.busy = null;
    }
  }

  /** Checks now; the answer (also sent as an event) or null when refused (see `error`). */
  check(): Promise<UpdateState | null> {
    this.asked = true;
    return this.run('check', () => this.backend.call('update_check'));
  }

  download(): Promise<UpdateState | null> {
    this.asked = true;
    return this.run('download', () => this.backend.call('update_download'));
  }

  /** Installs the verified download; the shell restarts into it. */
  async install(): Promise<boolean> {
    this.asked = true;
    await this.run('install', async () => {
      await this.backend.call('update_install');
      return null;
    });
    return this.error === null;
  }

  /** "Try again" after a failure: the download again when there is an offer, else a check. */
  retry(): Promise<UpdateState | null> {
    return this.state.offer ? this.download() : this.check();
  }

  /** Hides the notice for this offer's version (a newer offer shows again). */
  async later(): Promise<void> {
    this.asked = false;
    this.error = null;
    const offer = this.state.offer;
    if (!offer) return;
    this.putOff = [...this.putOff, offer.version];
    await this.run('later', () => this.backend.call('update_later'));
  }

  isPutOff(version: string): boolean {
    return this.putOff.includes(version);
  }
}
