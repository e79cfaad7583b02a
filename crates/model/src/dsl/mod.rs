//! DSL parsing and emitting.
