import type { Backend } from '../ipc/backend';
import type { Settings } from '../ipc/types';

export const FALLBACK_SETTINGS: Settings = {
  theme: 'system',
  weekStart: 'monday',
  timeFormat: '24h',
  dateFormat: 'dmy',
  reminderLeadMinutes: 0,
  remindersEnabled: true,
  quickAddShortcut: null,
  autostart: false,
  lockAfterMinutes: null,
  closeToTray: false,
  updateChannel: 'stable',
  updateCheckAutomatically: true,
};

/** The app's settings as the shell stores them; every change goes through `settings_set`. */
export class SettingsStore {
  value = $state.raw<Settings>(FALLBACK_SETTINGS);
  loaded = $state(false);
  saving = $state(false);
  systemDark = $state(false);

  readonly effectiveTheme = $derived<'light' | 'dark'>(
    this.value.theme === 'system' ? (this.systemDark ? 'dark' : 'light') : this.value.theme,
  );

  constructor(private readonly backend: Backend) {}

  async load() {
    this.value = await this.backend.call('settings_get');
    this.loaded = true;
  }

  /** Saves a change; on refusal the previous value stays and the error is thrown. */
  async update(patch: Partial<Settings>): Promise<void> {
    const next = { ...this.value, ...patch };
    this.saving = true;
    try {
      this.value = await this.backend.call('settings_set', { settings: next });
    } finally {
      this.saving = false;
    }
  }
}
