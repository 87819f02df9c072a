// The discreet notification that tells a reporter the unit answered. The core's background check
// (`checkCases`) asks each open case for news, spread over the time the platform's background
// work allows, and says how many cases have some; this decides what the platform posts: nothing
// when there is no news or the reporter turned the notification off, else one notification in
// the reporter's own words or, by default, the app's neutral "You have an update". It never
// carries a category, a unit, a count or the text of a message, so that a glance at the phone
// tells nobody about the report. The platform posts it (NotificationManager, UNUserNotificationCenter)
// and tapping it opens the app as its icon does, behind the quick exit.
package org.tipline.viewmodel

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.tipline.ffi.ApiException
import org.tipline.ffi.CaseCheck
import org.tipline.ffi.TiplineClientInterface

/**
 * A local notification to post. Its words are [Notice.App] with [AppMessage.UPDATE] (the
 * platform's string in the reporter's language) or [Notice.Text] with the reporter's own wording.
 */
data class UpdateNotification(val words: Notice)

/** What the last check found, and the notification it calls for. */
data class UpdatesState(
    val checking: Boolean = false,
    val last: CaseCheck? = null,
    val notification: UpdateNotification? = null,
    val notice: Notice? = null,
)

/** Runs the background check and decides the notification. */
class UpdatesViewModel(
    private val client: TiplineClientInterface,
    private val settings: SettingsViewModel,
    private val cases: CaseViewModel,
) {
    private val _state = MutableStateFlow(UpdatesState())
    val state: StateFlow<UpdatesState> = _state.asStateFlow()

    // One check at a time: the app's start and the background work can meet in one process,
    // and two checks together would ask every case twice at close moments.
    private val running = Mutex()
    private var startChecked = false

    /**
     * The notification `check` calls for under the reporter's settings: none without news or
     * with notifications off, else the reporter's wording, else the neutral one.
     */
    fun notificationFor(check: CaseCheck): UpdateNotification? {
        val settings = settings.state.value
        if (check.withNews == 0u || !settings.updateNotifications) return null
        return UpdateNotification(settings.notificationWording?.let { Notice.Text(it) } ?: Notice.App(AppMessage.UPDATE))
    }

    /**
     * Checks the cases for news, each at its own moment within `spreadSeconds`, and returns the
     * notification to post (background work calls this after flushing the outbox). With the app
     * in front (`foreground`) nothing is posted: the case list is refreshed instead. Null also
     * when the check itself failed (the state's notice says why; the next check asks again).
     */
    suspend fun check(spreadSeconds: UInt, foreground: Boolean = false): UpdateNotification? = running.withLock {
        _state.update { it.copy(checking = true) }
        val found = try {
            client.checkCases(spreadSeconds)
        } catch (e: ApiException) {
            _state.update { it.copy(checking = false, notice = settings.text.notice(e)) }
            return null
        }
        if (found.withNews > 0u) cases.refreshCases()
        val notification = if (foreground) null else notificationFor(found)
        _state.update { UpdatesState(last = found, notification = notification) }
        notification
    }

    /**
     * The check at the app's start, once per process (the app in front: nothing is posted, the
     * case list shows the news). Returns false when it already ran.
     */
    suspend fun checkAtStart(spreadSeconds: UInt): Boolean {
        synchronized(this) {
            if (startChecked) return false
            startChecked = true
        }
        check(spreadSeconds, foreground = true)
        return true
    }

    /** The reporter opened the app or left it by quick exit: the posted notification is gone. */
    fun dismissed() {
        _state.update { it.copy(notification = null) }
    }

    companion object {
        /**
         * The spread of the check at the app's start: the reporter's cases are asked over the
         * first minute, not in one burst that would tie them together.
         */
        const val START_SPREAD: UInt = 60u
    }
}
