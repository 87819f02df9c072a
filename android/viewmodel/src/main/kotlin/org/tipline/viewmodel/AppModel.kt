// The app's models in one place, around one client for the app's lifetime: the platform opens it
// with its key store and preferences, draws the screens from the models' state, feeds it the
// network and lifecycle signals, and calls `quickExit()` before leaving at once.
package org.tipline.viewmodel

import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.tipline.ffi.ApiException
import org.tipline.ffi.ClientConfig
import org.tipline.ffi.DirectoryInfo
import org.tipline.ffi.KeyStore
import org.tipline.ffi.Language
import org.tipline.ffi.OutboxItem
import org.tipline.ffi.OutboxListener
import org.tipline.ffi.TiplineClient
import org.tipline.ffi.TiplineClientInterface

/** The relay choice as the settings screen shows it. */
data class RelayState(
    /** The reporter lets calls go through a relay (the default). */
    val enabled: Boolean,
    /** Calls go through a relay now: one is known and the reporter lets them. */
    val active: Boolean,
)

/** Every screen's model over one client. */
class AppModel(
    val client: TiplineClientInterface,
    val settings: SettingsViewModel,
    scope: CoroutineScope,
) {
    val names = DirectoryNames(client, settings)
    val delivery = ConnectivityDelivery(client, settings, scope)
    val codename = CodenameViewModel(settings)
    val report = ReportViewModel(client, settings, codename, delivery)
    val outbox = OutboxViewModel(client, settings, delivery, names)
    val cases = CaseViewModel(client, settings, names)
    val alerts = AlertsViewModel(client, settings, names)
    val hotlines = HotlinesViewModel(client, settings)
    val updates = UpdatesViewModel(client, settings, cases)

    private val _relay = MutableStateFlow(RelayState(enabled = true, active = false))

    /**
     * The relay choice in the settings: whether the reporter lets calls go through an Oblivious
     * HTTP relay (on by default; the core keeps the choice), and whether they do now.
     */
    val relay: StateFlow<RelayState> = _relay.asStateFlow()

    private val _directoryNotice = MutableStateFlow<Notice?>(null)

    /** Why the directory could not be refreshed, if it could not (the cached one stays in use). */
    val directoryNotice: StateFlow<Notice?> = _directoryNotice.asStateFlow()
    private val outboxListeners = CopyOnWriteArrayList<(OutboxItem) -> Unit>()

    init {
        client.setListener(object : OutboxListener {
            // The core calls this on its own threads and it must not throw: a failure here
            // (e.g. the client closed under a late flush) only costs a screen update.
            override fun onChange(item: OutboxItem) {
                try {
                    outbox.onChange(item)
                    outboxListeners.forEach { it(item) }
                } catch (e: RuntimeException) {
                    // Nothing to do: the next refresh reads the outbox again.
                }
            }
        })
        client.directory()?.let(::directoryChanged)
    }

    /** Also tells `listener` of every outbox change (e.g. the platform's "delivered" notification). */
    fun addOutboxListener(listener: (OutboxItem) -> Unit) {
        outboxListeners += listener
    }

    /** What the app does on start: a fresh directory if online, the screens' data, a flush. */
    suspend fun start() {
        refreshDirectory()
        refreshRelay()
        outbox.refresh()
        cases.refreshCases()
        hotlines.refresh()
        delivery.flushNow()
    }

    /** Fetches and verifies the directory; offline or refused, the cached one stays in use. */
    suspend fun refreshDirectory(): DirectoryInfo? {
        val text = settings.text
        return try {
            client.refreshDirectory().also {
                _directoryNotice.value = null
                directoryChanged(it)
                // A directory may name a relay (or stop naming one).
                refreshRelay()
            }
        } catch (e: ApiException.Crypto) {
            _directoryNotice.value = Notice.Text(text.text("directory-refused"))
            null
        } catch (e: ApiException) {
            _directoryNotice.value = if (client.directory() == null) Notice.App(AppMessage.NO_DIRECTORY) else text.notice(e)
            null
        }
    }

    /** Reads the relay choice, and whether calls go through a relay now, from the core. */
    suspend fun refreshRelay() {
        try {
            _relay.value = RelayState(client.useRelay(), client.throughRelay())
        } catch (e: ApiException) {
            // The stored choice could not be read: the core keeps its own default (on).
        }
    }

    /**
     * The reporter's choice: through a relay when one is known (`true`), or straight to the
     * intake, which then sees the phone's address (`false`). Takes effect for the next call.
     */
    suspend fun setUseRelay(enabled: Boolean) {
        client.setUseRelay(enabled)
        refreshRelay()
    }

    private fun directoryChanged(directory: DirectoryInfo) {
        settings.directoryChanged(directory)
        report.relabel(directory)
        outbox.render()
    }

    /** The language switch: every screen again in `language`, with its layout direction. */
    suspend fun selectLanguage(language: Language) {
        settings.selectLanguage(language)
        report.relabel()
        codename.relabel()
        outbox.render()
        cases.render()
        hotlines.refresh()
        cases.refreshCases()
        alerts.refresh()
    }

    /** The reporter's region: the unit for new reports, the alerts and the hotlines follow it. */
    suspend fun selectRegion(code: String) {
        settings.selectRegion(code)
        hotlines.refresh()
        alerts.refresh()
    }

    /**
     * Quick exit: forgets everything on screen (the report being typed, the codename, the open
     * conversation, the lists) so that nothing shows when the app is opened again. The sealed
     * outbox and case book stay on the device. The platform then leaves the app at once.
     */
    fun quickExit() {
        report.clear()
        codename.kept()
        cases.clear()
        outbox.clear()
        alerts.clear()
        updates.dismissed()
    }

    companion object {
        /**
         * Opens the client in the app's private storage with the platform's key store, and the
         * models over it. Works offline.
         */
        suspend fun open(
            config: ClientConfig,
            keyStore: KeyStore,
            preferences: Preferences,
            deviceLanguages: List<String>,
            deviceRegion: String?,
            scope: CoroutineScope,
        ): AppModel {
            val client = TiplineClient.open(config, keyStore)
            return AppModel(client, SettingsViewModel(preferences, deviceLanguages, deviceRegion), scope)
        }
    }
}
