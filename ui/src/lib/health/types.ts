// Health reports' part of the IPC contract (docs/desktop-ipc.md, "Health
// reports"). The DTOs are generated from Rust (src-tauri/src/health_dto.rs)
// into ../ipc/bindings.
import type { HealthEventDto } from '../ipc/bindings/HealthEventDto';
import type { HealthField } from '../ipc/bindings/HealthField';
import type { HealthPreview } from '../ipc/bindings/HealthPreview';
import type { HealthSetArgs } from '../ipc/bindings/HealthSetArgs';
import type { HealthState } from '../ipc/bindings/HealthState';

export type { HealthEventDto, HealthField, HealthPreview, HealthSetArgs, HealthState };

export type HealthCommands = {
  health_state: { args: void; result: HealthState };
  /** The answer to the question, or the Settings toggle. Off empties the queue. */
  health_set: { args: HealthSetArgs; result: HealthState };
  /** "What is sent": the report's fields, the queued events, the bodies that would go now. */
  health_preview: { args: void; result: HealthPreview };
  /** The page had an uncaught error. Takes nothing: the message and stack never leave the page. */
  health_ui_error: { args: void; result: boolean };
};
