import { AppError } from '../errors/app-error';
import type { Backend } from '../ipc/backend';
import type { HealthPreview, HealthState } from './types';

/** Before the shell answered (and for shells without health reports). */
export const INITIAL_HEALTH_STATE: HealthState = {
  enabled: false,
  ask: false,
  decided: false,
  canSend: false,
};

/**
 * Opt-in health reports: whether they are on, whether the one question is
 * due (the shell decides: never answered and a week since the first run),
 * and the "What is sent" preview. The question and Settings both answer
 * through `decide`, so they agree.
 */
export class HealthStore {
  state = $state.raw<HealthState>(INITIAL_HEALTH_STATE);
  /** False when the shell has no health reports (an older shell). */
  supported = $state(true);
  preview = $state.raw<HealthPreview | null>(null);
  busy = $state(false);
  /** A refused command, shown where it was asked. */
  error = $state.raw<AppError | null>(null);
  /** The page's uncaught errors were reported this run (the shell takes one). */
  private reported = false;

  /** The question is shown: due, and not answered in this window yet. */
  readonly ask = $derived(this.supported && this.state.ask && !this.state.decided);

  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly backend: Backend) {}

  /** Reads the state now and every hour, so an app left running for a week is asked too. */
  start(): void {
    void this.load();
    this.timer ??= setInterval(() => void this.load(), 3600_000);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async load(): Promise<void> {
    try {
      this.state = await this.backend.call('health_state');
      this.supported = true;
    } catch {
      this.supported = false;
    }
  }

  /** The answer (question or Settings); false when the shell refused it (see `error`). */
  async decide(enabled: boolean): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      this.state = await this.backend.call('health_set', { enabled });
      if (this.preview) await this.loadPreview();
      return true;
    } catch (e) {
      this.error = AppError.from(e);
      return false;
    } finally {
      this.busy = false;
    }
  }

  async loadPreview(): Promise<void> {
    try {
      this.preview = await this.backend.call('health_preview');
    } catch (e) {
      this.error = AppError.from(e);
    }
  }

  /**
   * An uncaught error in the page. Only that it happened crosses to the
   * shell — never the error, its message or stack (they can hold task
   * text); once per window.
   */
  reportUiError(): void {
    if (this.reported || !this.supported || !this.state.enabled) return;
    this.reported = true;
    void this.backend.call('health_ui_error').catch(() => {});
  }
}
