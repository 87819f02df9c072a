// The outbox screen: every report on the device with where it stands, in the core's words, and a
// retry. The core's listener reports each change (queued, sending with progress, delivered,
// failed) and the row changes with it, with no polling.
package org.tipline.viewmodel

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.tipline.ffi.ApiException
import org.tipline.ffi.OutboxItem
import org.tipline.ffi.OutboxListener
import org.tipline.ffi.OutboxStatus
import org.tipline.ffi.TiplineClientInterface
import org.tipline.ffi.progressPercent

/** Where an item stands, for its icon and colour: FAILED is a refusal by the server, UNVERIFIED a
 * report the server took whose receipt does not verify. */
enum class OutboxPhase { QUEUED, SENDING, DELIVERED, FAILED, UNVERIFIED }

/** One outbox row. */
data class OutboxRow(
    val reportId: String,
    val caseId: String,
    val unitName: String,
    val created: String,
    val phase: OutboxPhase,
    /** The core's sentence: "Not sent yet: no connection. Trying again at 14:05." */
    val status: String,
    /** From 0 to 1 while sending. */
    val progress: Float?,
    /** Whether the row offers "retry": anything not delivered and not being sent. */
    val canRetry: Boolean,
)

/** The outbox screen. */
data class OutboxState(val rows: List<OutboxRow> = emptyList(), val notice: Notice? = null)

/** The outbox, kept current by the core's listener. */
class OutboxViewModel(
    private val client: TiplineClientInterface,
    private val settings: SettingsViewModel,
    private val delivery: ConnectivityDelivery,
    private val names: DirectoryNames,
) : OutboxListener {
    private val items = MutableStateFlow<List<OutboxItem>>(emptyList())
    private val _state = MutableStateFlow(OutboxState())
    val state: StateFlow<OutboxState> = _state.asStateFlow()

    /** Reads every item from the core. */
    suspend fun refresh() {
        try {
            items.value = client.outbox()
            _state.update { it.copy(notice = null) }
        } catch (e: ApiException) {
            _state.update { it.copy(notice = settings.text.notice(e)) }
        }
        render()
    }

    /** The core's listener: one item changed (called on one of the core's threads). */
    override fun onChange(item: OutboxItem) {
        items.update { list ->
            if (list.any { it.reportId == item.reportId }) list.map { if (it.reportId == item.reportId) item else it } else list + item
        }
        render()
    }

    /** "Retry": the core puts the item back in the queue, due now, and delivery tries it. */
    suspend fun retry(reportId: String): Boolean {
        val retried = try {
            client.retry(reportId)
        } catch (e: ApiException) {
            _state.update { it.copy(notice = settings.text.notice(e)) }
            return false
        }
        refresh()
        if (retried) delivery.flushNow()
        return retried
    }

    /** The rows again, in the current language (after a change of language or directory). */
    fun render() {
        val text = settings.text
        val rows = items.value.map { item -> row(item, text) }
        _state.update { it.copy(rows = rows) }
    }

    private fun row(item: OutboxItem, text: CoreText): OutboxRow {
        val (phase, status, progress) = when (val s = item.status) {
            is OutboxStatus.Queued -> Triple(
                OutboxPhase.QUEUED,
                s.lastError?.let { reason ->
                    text.text("outbox-retrying", "reason" to text.text(reason), "time" to text.time(s.nextAttempt))
                } ?: text.text("outbox-queued"),
                null,
            )
            is OutboxStatus.Sending -> {
                val percent = progressPercent(s.progress).toInt()
                Triple(OutboxPhase.SENDING, text.text("outbox-sending", "percent" to percent.toString()), s.progress)
            }
            is OutboxStatus.Delivered -> Triple(OutboxPhase.DELIVERED, text.text("outbox-delivered", "date" to text.dateTime(s.receivedAt)), null)
            is OutboxStatus.Failed -> Triple(OutboxPhase.FAILED, text.text("outbox-failed", "reason" to text.text(s.reason)), null)
            is OutboxStatus.ReceiptUnverified -> Triple(OutboxPhase.UNVERIFIED, text.text("outbox-receipt-unverified"), null)
        }
        return OutboxRow(
            reportId = item.reportId,
            caseId = item.caseId,
            unitName = names.unit(item.unitId),
            created = text.dateTime(item.created),
            phase = phase,
            status = status,
            progress = progress,
            canRetry = phase == OutboxPhase.QUEUED || phase == OutboxPhase.FAILED,
        )
    }

    /** Forgets the rows on screen (quick exit); the outbox itself stays on the device. */
    fun clear() {
        items.value = emptyList()
        _state.value = OutboxState()
    }
}
