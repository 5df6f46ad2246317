//! Import/export formats (being written).
