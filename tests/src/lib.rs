//! End-to-end tests that run the real binaries as processes, on loopback only.
//!
//! The harness: [`binaries`] finds (and builds, once) the workspace's binaries next to the
//! running executable; [`process`] starts `tipline-server --dev` on `127.0.0.1:0` over a
//! temporary data directory, waits for `/readyz`, restarts it on the same directory, and kills it
//! (SIGKILL) on drop; [`citizen`] seals and submits reports as a phone does and checks receipts;
//! [`inbox`] makes a unit's desk (core's [`tipline_core::desk::DeskClient`]) and waits on its
//! live stream. Every wait is bounded.
//!
//! The integration tests are in `tests/e2e/`; the load benchmark is the `loadgen` binary (its
//! drivers are in [`load`]), with `bare` as its baseline server. [`postgres`] starts a throwaway
//! PostgreSQL for the tests and phases that run several nodes on one database.

pub mod attack;
pub mod binaries;
pub mod citizen;
pub mod files;
pub mod inbox;
pub mod load;
#[path = "../../server/tests/support/postgres.rs"]
pub mod postgres;
pub mod process;

pub use citizen::{seal_submission, Accepted, Citizen, Submission};
pub use inbox::{desk, live_inbox, next_report};
pub use process::{ChildServer, ServerOptions, TestServer};

/// A unit of the sample directory (Infohus Vestegnen, DK) the tests file reports to.
pub const UNIT: &str = "dk-infohus-vestegnen";
/// Another unit of the sample directory.
pub const OTHER_UNIT: &str = "dk-infohus-nordjylland";

/// A citizen and a desk of `unit_id` against `server`, and the unit's encryption key as the
/// citizen read it from the verified directory.
pub async fn citizen_and_desk(
    server: &TestServer,
    unit_id: &str,
) -> anyhow::Result<(
    Citizen,
    tipline_core::keys::EncryptionPublicKey,
    tipline_core::desk::DeskClient,
)> {
    let citizen = Citizen::connect(server.url()).await?;
    let unit_key = citizen.unit_key(&server.authority()?, unit_id).await?;
    Ok((citizen, unit_key, desk(server, unit_id)?))
}
