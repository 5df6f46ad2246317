//! Undo that brings back records a purge removed, in a vault that syncs.
//!
//! A purge is a tombstone: every device drops the record's id for good,
//! and any later write to that id is absorbed (`docs/sync-protocol.md`
//! §3). Writing the old id again would be refused here (`record_purged`)
//! and, if it were sent, vanish on every other device. So an undo that
//! re-creates a tombstoned record creates it under a new id, with the
//! same content; subtasks and tasks of a list brought back by the same
//! undo point at the new ids. Other devices drop the old record (the
//! purge) and show the new one: nothing the user asked back is lost, and
//! nothing purged comes back under its old id.

use std::collections::HashMap;

use super::fields::{LIST, TASK};
use super::local::record_ref;
use super::store;
use crate::domain::{Id, List, Task};
use crate::error::VaultError;
use crate::vault::Vault;

impl Vault {
    /// `tasks` and `lists` as an undo should write them: each one not in
    /// memory whose merge state is a tombstone gets a new id. Unchanged
    /// in a vault that does not sync.
    pub(crate) fn sync_reissue_purged(
        &mut self,
        mut tasks: Vec<Task>,
        mut lists: Vec<List>,
    ) -> Result<(Vec<Task>, Vec<List>), VaultError> {
        if !self.sync_enabled()? {
            return Ok((tasks, lists));
        }
        let wanted: Vec<_> = tasks
            .iter()
            .filter(|t| !self.tasks.contains_key(&t.id))
            .map(|t| record_ref(TASK, t.id))
            .chain(
                lists
                    .iter()
                    .filter(|l| !self.lists.contains_key(&l.id))
                    .map(|l| record_ref(LIST, l.id)),
            )
            .collect();
        if wanted.is_empty() {
            return Ok((tasks, lists));
        }
        let states = {
            let tx = self.conn.unchecked_transaction()?;
            let mut ledger = self.ledger_reader(&tx)?;
            let s = store::read_records(&tx, &mut ledger, &self.key, self.key_id, &wanted)?;
            drop(ledger);
            tx.finish()?;
            s
        };
        let mut renamed: HashMap<Id, Id> = HashMap::new();
        for (r, s) in states {
            if s.state.deleted.is_some() {
                renamed.insert(Id::from_bytes(r.id.0), Id::random(self.env.rng.as_mut()));
            }
        }
        if renamed.is_empty() {
            return Ok((tasks, lists));
        }
        let new = |id: Id| renamed.get(&id).copied().unwrap_or(id);
        for t in &mut tasks {
            t.id = new(t.id);
            t.parent = t.parent.map(new);
            t.list = t.list.map(new);
        }
        for l in &mut lists {
            l.id = new(l.id);
        }
        Ok((tasks, lists))
    }
}
