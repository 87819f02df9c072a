//! Live push to unit desks. After a durable commit a handler calls [`PushHub::notify`]; every
//! live inbox stream of that unit holds a [`Subscription`] and wakes up to lease what is new.
//!
//! A notification carries no content: it only says "look again" (or, for a case message, which
//! case and sequence number), so a lost or duplicated one costs a lookup, never a report: the
//! store remains the truth, and a stream also looks again when a lease expires.
//!
//! [`LocalHub`] fans out inside one process. Several server processes on one PostgreSQL use
//! `store::postgres::push::PgHub`: the store records each event in the change's transaction,
//! the hub wakes the other nodes with `NOTIFY` and feeds their [`LocalHub`] from `LISTEN` and a
//! sequence cursor.

use std::collections::HashMap;
use std::sync::Mutex;

use tipline_core::report::CaseId;
use tokio::sync::broadcast;

/// How many notifications a slow stream may fall behind before it is told it lagged (it then
/// simply leases again).
const CHANNEL_CAPACITY: usize = 64;

/// What happened for a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushEvent {
    /// A report is queued for the unit (new, or transferred to it).
    Report,
    /// A reporter posted a follow-up in one of the unit's cases.
    Message {
        /// The case.
        case_id: CaseId,
        /// The message's position in the case.
        seq: i64,
    },
}

/// What a live stream waits on.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<PushEvent>,
}

/// What [`Subscription::recv`] yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A notification.
    Event(PushEvent),
    /// Some notifications were dropped because the stream was slow: look again.
    Lagged,
    /// The hub is gone.
    Closed,
}

impl Subscription {
    /// Waits for the next notification.
    pub async fn recv(&mut self) -> Received {
        match self.rx.recv().await {
            Ok(event) => Received::Event(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Received::Lagged,
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }
}

/// Fans notifications out to the live streams of a unit.
pub trait PushHub: Send + Sync + 'static {
    /// Tells every live stream of `unit_id` about `event`. Call it after the change is durable.
    fn notify(&self, unit_id: &str, event: PushEvent);

    /// A subscription to `unit_id`'s notifications, from now on.
    fn subscribe(&self, unit_id: &str) -> Subscription;
}

/// A [`PushHub`] within one process: one broadcast channel per unit with a live stream.
#[derive(Debug, Default)]
pub struct LocalHub {
    channels: Mutex<HashMap<String, broadcast::Sender<PushEvent>>>,
}

impl LocalHub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any live stream is subscribed (to any unit) now.
    pub fn has_streams(&self) -> bool {
        self.channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .any(|sender| sender.receiver_count() > 0)
    }

    /// Tells every live stream of every unit to look again (after notifications may have been
    /// missed, as when a node's connection to a shared database was down).
    pub fn wake_all(&self) {
        let units: Vec<String> = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .cloned()
            .collect();
        for unit in units {
            self.notify(&unit, PushEvent::Report);
        }
    }
}

impl PushHub for LocalHub {
    fn notify(&self, unit_id: &str, event: PushEvent) {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = channels.get(unit_id) {
            if sender.send(event).is_err() {
                // Nobody listens any more: forget the channel.
                channels.remove(unit_id);
            }
        }
    }

    fn subscribe(&self, unit_id: &str) -> Subscription {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let rx = match channels.get(unit_id) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, rx) = broadcast::channel(CHANNEL_CAPACITY);
                channels.insert(unit_id.to_owned(), sender);
                rx
            }
        };
        Subscription { rx }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_notify_reaches_only_that_units_subscribers() {
        let hub = LocalHub::new();
        let mut a1 = hub.subscribe("a");
        let mut a2 = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.notify("a", PushEvent::Report);
        assert_eq!(a1.recv().await, Received::Event(PushEvent::Report));
        assert_eq!(a2.recv().await, Received::Event(PushEvent::Report));
        let nothing = tokio::time::timeout(std::time::Duration::from_millis(20), b.recv()).await;
        assert!(nothing.is_err());
    }

    #[test]
    fn test_has_streams_only_while_a_subscription_lives() {
        let hub = LocalHub::new();
        assert!(!hub.has_streams());
        let a = hub.subscribe("a");
        assert!(hub.has_streams());
        drop(a);
        // The channel is still in the map until a notification finds it empty.
        assert!(!hub.has_streams());
    }

    #[tokio::test]
    async fn test_channel_is_dropped_without_subscribers() {
        let hub = LocalHub::new();
        drop(hub.subscribe("a"));
        hub.notify("a", PushEvent::Report);
        assert!(hub.channels.lock().unwrap().is_empty());
        // A later subscriber still gets later events.
        let mut again = hub.subscribe("a");
        hub.notify("a", PushEvent::Report);
        assert_eq!(again.recv().await, Received::Event(PushEvent::Report));
    }
}
