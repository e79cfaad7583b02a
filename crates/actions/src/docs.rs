//! docs (being written)
