//! uniffi bindings over tipline-core: see issue "Bindings"; nothing is exported yet.
