// The bridge between the platform's signals and the core's outbox: the platform tells this when
// the network comes back (Android `ConnectivityManager.NetworkCallback`, iOS `NWPathMonitor`),
// when the app comes to the foreground and when background work runs (WorkManager,
// `BGTaskScheduler`); each of them is a `flush()` of the core's outbox, which owns the retries,
// back-off, jitter and resumption. When the phone's network comes back, the core makes due at
// once the items that waited only for it (`retryWaitingForNetwork`), not those waiting out a
// busy or failing server's back-off.
package org.tipline.viewmodel

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.tipline.ffi.ApiException
import org.tipline.ffi.FlushSummary
import org.tipline.ffi.TiplineClientInterface

/** What delivery last did, for a banner ("offline", "sending"). */
data class DeliveryState(
    val online: Boolean = true,
    val flushing: Boolean = false,
    val last: FlushSummary? = null,
    val notice: Notice? = null,
)

/** Flushes the outbox whenever the platform says it is worth trying. */
class ConnectivityDelivery(
    private val client: TiplineClientInterface,
    private val settings: SettingsViewModel,
    private val scope: CoroutineScope,
) {
    private val _state = MutableStateFlow(DeliveryState())
    val state: StateFlow<DeliveryState> = _state.asStateFlow()

    /** The platform saw a usable network: what waited for it is due now, and delivery starts. */
    fun onNetworkAvailable(): Job {
        _state.update { it.copy(online = true) }
        return scope.launch {
            try {
                client.retryWaitingForNetwork()
            } catch (e: ApiException) {
                // The flush below reports the storage problem, if it persists.
            }
            flushNow()
        }
    }

    /** The platform lost the network; the outbox keeps everything until it returns. */
    fun onNetworkLost() {
        _state.update { it.copy(online = false) }
    }

    /** The app came to the foreground. */
    fun onForeground(): Job = flushSoon()

    /** Starts a flush without waiting for it. */
    fun flushSoon(): Job = scope.launch { flushNow() }

    /**
     * Flushes now and waits (background work calls this). Returns the summary, or null when
     * the flush itself failed (the notice says why). Concurrent flushes wait for each other in
     * the core.
     */
    suspend fun flushNow(): FlushSummary? {
        _state.update { it.copy(flushing = true) }
        return try {
            client.flush().also { summary -> _state.update { it.copy(flushing = false, last = summary, notice = null) } }
        } catch (e: ApiException) {
            _state.update { it.copy(flushing = false, notice = settings.text.notice(e)) }
            null
        }
    }

    /** Whether background work should stay scheduled after `summary`: something still waits. */
    fun needsBackgroundWork(summary: FlushSummary?): Boolean = summary == null || summary.pending > 0u
}
