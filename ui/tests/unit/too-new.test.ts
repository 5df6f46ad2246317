import { render, fireEvent, screen, waitFor } from '@testing-library/svelte';
import type { Component } from 'svelte';
import { describe, expect, it } from 'vitest';
import UnlockView from '../../src/views/UnlockView.svelte';
import { App } from '../../src/lib/app/app.svelte';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import type { FakeSeed } from '../../src/lib/ipc/fake/vault';
import type { PreMigrationCopy } from '../../src/lib/ipc/types';
import { instantText } from '../../src/lib/format/dates';
import { TestId } from '../../src/lib/testid';
import WithApp from './WithApp.svelte';

// The unlock screen when a newer version upgraded the vault (vault_too_new),
// against the fake backend: the two ways out, and going back to the copy.

const NOW = new Date(2026, 10, 30, 10, 0);
const OLDER: PreMigrationCopy = {
  name: 'vault-schema-5-20261101T080000.000Z.db',
  schema: 5,
  createdAt: '2026-11-01T08:00:00.000Z',
  bytes: 40960,
};
const NEWER: PreMigrationCopy = {
  name: 'vault-schema-5-20261120T080000.000Z.db',
  schema: 5,
  createdAt: '2026-11-20T08:00:00.000Z',
  bytes: 53248,
};

async function shown(copies: PreMigrationCopy[], extra: Partial<FakeSeed> = {}) {
  const backend = new FakeBackend(
    {
      vault: 'locked',
      passphrase: 'pw',
      tasks: ['Alpha', 'Beta'],
      tooNew: { copies },
      ...extra,
    },
    () => NOW,
  );
  const app = new App(backend, { now: () => NOW });
  await app.start();
  render(WithApp, {
    props: { app, component: UnlockView as unknown as Component<Record<string, unknown>> },
  });
  return { app, backend };
}

describe('A vault a newer version upgraded', () => {
  it('says so, offers updating and the newest copy with an honest warning', async () => {
    const { app } = await shown([NEWER, OLDER]);
    expect(app.phase).toBe('locked');
    expect(app.unlockError?.code).toBe('vault_too_new');
    const screenEl = screen.getByTestId(TestId.TooNew);
    expect(screenEl.textContent).toContain('This vault was upgraded by a newer version');
    // The usual ways of unlocking are not offered: none of them can work.
    expect(screen.queryByTestId(TestId.UnlockPassphrase)).toBeNull();
    expect(screen.getByTestId(TestId.TooNewCheckUpdate).textContent).toContain('Check for updates');
    const heading = screen.getByRole('heading', { name: /Open the copy from before the update/ });
    expect(heading.textContent).toContain(instantText(NEWER.createdAt));
    const warning = screen.getByTestId(TestId.TooNewCopy);
    expect(warning.dataset.name).toBe(NEWER.name);
    const words = (warning.textContent ?? '').replace(/\s+/g, ' ');
    expect(words).toContain("only in the newer version's file");
    expect(words).toContain('kept aside, untouched');
    // No file names or folders: the copy is known by its date.
    expect(screenEl.textContent).not.toContain('.db');
    expect(screenEl.textContent).not.toContain('pre-migration');
    expect(screen.getAllByRole('radio')).toHaveLength(2);
  });

  it('opens the chosen copy with the passphrase, after a wrong one changed nothing', async () => {
    const { app, backend } = await shown([NEWER, OLDER]);
    await fireEvent.click(screen.getByLabelText(instantText(OLDER.createdAt)));
    const input = screen.getByTestId(TestId.TooNewPassphrase) as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'nope' } });
    await fireEvent.click(screen.getByTestId(TestId.TooNewPassphraseSubmit));
    await waitFor(() =>
      expect(screen.getByTestId(TestId.TooNewError).dataset.code).toBe('wrong_passphrase'),
    );
    expect(app.phase).toBe('locked');

    await fireEvent.input(input, { target: { value: 'pw' } });
    await fireEvent.click(screen.getByTestId(TestId.TooNewPassphraseSubmit));
    await waitFor(() => expect(app.phase).toBe('unlocked'));
    const restore = backend.vault.calls.filter((c) => c.cmd === 'pre_migration_restore');
    expect(restore.map((c) => c.args)).toEqual([
      { method: 'passphrase', secret: 'nope', name: OLDER.name },
      { method: 'passphrase', secret: 'pw', name: OLDER.name },
    ]);
    expect(app.cache.counts.inbox).toBe(2);
  });

  it('says when no copy can be opened and leaves updating as the way out', async () => {
    await shown([]);
    expect(screen.getByTestId(TestId.TooNewNoCopy).textContent).toContain('Update the app');
    expect(screen.queryByTestId(TestId.TooNewKeyring)).toBeNull();
  });

  it('offers what is left when the chosen copy went away', async () => {
    const { backend } = await shown([NEWER, OLDER]);
    // Removed behind the app's back (another window restored and cleaned up).
    const fake = backend.vault;
    if (fake.tooNew) fake.tooNew.copies = [OLDER];
    await fireEvent.click(screen.getByTestId(TestId.TooNewKeyring));
    await waitFor(() =>
      expect(screen.getByTestId(TestId.TooNewError).dataset.code).toBe(
        'pre_migration_copy_not_found',
      ),
    );
    await waitFor(() =>
      expect(screen.getByTestId(TestId.TooNewCopy).dataset.name).toBe(OLDER.name),
    );
  });
});
