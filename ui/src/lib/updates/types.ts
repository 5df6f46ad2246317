// Updates' part of the IPC contract (docs/desktop-ipc.md, "Updates"). The
// DTOs are generated from Rust (src-tauri/src/update_dto.rs) into ../ipc/bindings.
import type { UpdateChannel } from '../ipc/bindings/UpdateChannel';
import type { UpdateError } from '../ipc/bindings/UpdateError';
import type { UpdateOfferDto } from '../ipc/bindings/UpdateOfferDto';
import type { UpdatePhase } from '../ipc/bindings/UpdatePhase';
import type { UpdateProgress } from '../ipc/bindings/UpdateProgress';
import type { UpdateState } from '../ipc/bindings/UpdateState';

export type {
  UpdateChannel,
  UpdateError,
  UpdateOfferDto,
  UpdatePhase,
  UpdateProgress,
  UpdateState,
};

export type UpdateCommands = {
  update_state: { args: void; result: UpdateState };
  /** Checks now; resolves after the check finished. */
  update_check: { args: void; result: UpdateState };
  /** Starts downloading the offer; returns at once (`downloading`), progress comes as events. */
  update_download: { args: void; result: UpdateState };
  /** Only in `ready`: closes the vault, pushes sync, installs and restarts. */
  update_install: { args: void; result: null };
  /** Hides the notice for this offer's version until the next start or a newer offer. */
  update_later: { args: void; result: UpdateState };
};

export type UpdateEvents = { 'update://state': UpdateState };

export const UPDATE_CHANNELS: readonly UpdateChannel[] = ['stable', 'beta', 'canary'];
