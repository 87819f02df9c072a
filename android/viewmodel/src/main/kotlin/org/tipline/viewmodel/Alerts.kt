// Alerts for the reporter's region: the core fetches them and keeps only those whose signature
// checks against the directory, localised; this model shows them.
package org.tipline.viewmodel

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.tipline.ffi.ApiException
import org.tipline.ffi.Severity
import org.tipline.ffi.TiplineClientInterface

/** One alert. */
data class AlertRow(
    val alertId: String,
    val unitName: String,
    val severity: Severity,
    /** The core's label for the severity ("Warning"). */
    val severityLabel: String,
    val title: String,
    val body: String,
    val expires: String,
)

/** The alerts screen. */
data class AlertsState(val region: String? = null, val alerts: List<AlertRow> = emptyList(), val loading: Boolean = false, val notice: Notice? = null)

/** The verified alerts for the chosen region. */
class AlertsViewModel(
    private val client: TiplineClientInterface,
    private val settings: SettingsViewModel,
    private val names: DirectoryNames,
) {
    private val _state = MutableStateFlow(AlertsState())
    val state: StateFlow<AlertsState> = _state.asStateFlow()

    /** Fetches the alerts for the chosen region in the chosen language. Offline, the last ones stay. */
    suspend fun refresh() {
        val region = settings.region
        val text = settings.text
        if (region == null) {
            _state.value = AlertsState(notice = Notice.App(AppMessage.NO_REGION))
            return
        }
        _state.update { it.copy(region = region, loading = true) }
        try {
            val alerts = client.alerts(region, text.language).map {
                AlertRow(it.alertId, names.unit(it.unitId), it.severity, it.severityLabel, it.title, it.body, text.dateTime(it.expiresAt))
            }
            _state.value = AlertsState(region, alerts)
        } catch (e: ApiException) {
            _state.update { it.copy(loading = false, notice = text.notice(e)) }
        }
    }

    /** Forgets the alerts on screen (quick exit). */
    fun clear() {
        _state.value = AlertsState()
    }
}
