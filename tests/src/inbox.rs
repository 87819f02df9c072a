//! A unit's desk in the tests: core's [`DeskClient`], as the desk tool uses it, with every wait
//! bounded so that no test hangs on a server that stopped talking. Reports are opened with
//! core's [`tipline_core::envelope::open_report`].

use std::time::Duration;

use anyhow::{bail, Context as _};
use tipline_core::desk::{Delivery, DeskClient, InboxEvent, InboxStream};

use crate::TestServer;

/// Longest a desk call, or opening the live stream, may take.
pub const DESK_TIMEOUT: Duration = Duration::from_secs(10);

/// A desk of `unit_id` against `server`, with the unit's keys from the server's dev setup.
pub fn desk(server: &TestServer, unit_id: &str) -> anyhow::Result<DeskClient> {
    let keys = server.unit_keys(unit_id)?;
    Ok(DeskClient::new(server.url(), None, DESK_TIMEOUT, &keys)?)
}

/// Opens the desk's live inbox; returns once the server answered (from then on, every report
/// committed reaches it).
pub async fn live_inbox(desk: &DeskClient) -> anyhow::Result<InboxStream> {
    let stream = tokio::time::timeout(DESK_TIMEOUT, desk.inbox_stream())
        .await
        .with_context(|| format!("the stream did not answer within {DESK_TIMEOUT:?}"))??;
    Ok(stream)
}

/// The next report on `stream` within `wait` (message notices are skipped), or `None`. An error
/// if the stream ended, or if the report's event id is not its report id.
pub async fn next_report(stream: &mut InboxStream, wait: Duration) -> anyhow::Result<Option<Delivery>> {
    let report = async {
        loop {
            match stream.next().await? {
                Some(InboxEvent::Report(delivery)) => return anyhow::Ok(*delivery),
                Some(InboxEvent::Message { .. }) => continue,
                None => bail!("the event stream ended"),
            }
        }
    };
    // `InboxStream::next` is cancel-safe: a wait that times out leaves what arrived buffered.
    let Ok(delivery) = tokio::time::timeout(wait, report).await else {
        return Ok(None);
    };
    let delivery = delivery?;
    let report_id = delivery.report_id.to_string();
    if stream.last_event_id() != Some(report_id.as_str()) {
        bail!(
            "event id {:?} is not the report id {report_id}",
            stream.last_event_id()
        );
    }
    Ok(Some(delivery))
}
