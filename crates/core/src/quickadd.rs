//! Quick-add grammar (being written).
