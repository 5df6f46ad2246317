//! (being written)
use super::*;
pub(super) fn import(_i: &[u8], _c: &mut ImportContext) -> Result<Bundle, InterchangeError> { todo!() }
