//! The intake API's shapes, defined once for the server and every client: paths, header names,
//! request and answer bodies, error codes, and the bounds on what crosses the network. The
//! server serves exactly these types and the citizen's and the desk's clients read and send
//! them, the way a Matrix server and its clients share `ruma`'s API types.
//!
//! With the `openapi` feature the types also derive `utoipa`'s schemas for the server's OpenAPI
//! document; the phone library is built without it, so the OpenAPI library stays out of it.

pub mod bounds;
