//! What the platform provides and the app implements: the key store (Android Keystore, iOS
//! Keychain) and the listener that hears outbox changes (for the screen and notifications).
//! Each is a foreign trait, wrapped here in an adapter that implements the core's own trait.

use std::sync::Arc;

use tipline_core::client::keystore;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::types::OutboxItem;

/// A place to keep 32-byte secret keys, implemented by the app over the platform's key storage
/// (Android Keystore, iOS Keychain). The core asks for keys by name; the same name must always
/// give the same key on this device.
#[uniffi::export(foreign)]
pub trait KeyStore: Send + Sync {
    /// The 32-byte key called `name`, created and kept on first use. Throw
    /// `ApiError.Storage` if the platform store fails.
    fn key(&self, name: String) -> Result<Vec<u8>, ApiError>;
}

/// Hears every change of an outbox item: queued, sending (with progress), delivered, failed.
/// Called on one of the core's threads; hand the item over to the UI thread. Must not throw.
#[uniffi::export(foreign)]
pub trait OutboxListener: Send + Sync {
    /// `item` changed.
    fn on_change(&self, item: OutboxItem);
}

/// The app's key store as the core's.
pub(crate) struct CoreKeyStore(pub(crate) Arc<dyn KeyStore>);

impl keystore::KeyStore for CoreKeyStore {
    fn key(&self, name: &str) -> tipline_core::Result<Zeroizing<[u8; 32]>> {
        let bytes = Zeroizing::new(
            self.0
                .key(name.to_owned())
                .map_err(|e| std::io::Error::other(format!("platform key store: {e}")))?,
        );
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            std::io::Error::other(format!(
                "platform key store: a key has {} bytes, not 32",
                bytes.len()
            ))
        })?;
        Ok(Zeroizing::new(key))
    }
}

/// The app's listener as the core's.
pub(crate) struct CoreListener(pub(crate) Arc<dyn OutboxListener>);

impl tipline_core::client::OutboxListener for CoreListener {
    fn on_change(&self, item: tipline_core::client::OutboxItem) {
        self.0.on_change(item.into());
    }
}
