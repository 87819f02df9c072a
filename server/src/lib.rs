//! The intake server: not built yet (see the README).
