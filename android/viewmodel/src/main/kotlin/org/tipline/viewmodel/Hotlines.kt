// Hotlines for the reporter's region from the signed directory, with "open now" or when they open
// worked out by the core in each line's own time zone, and the `tel:` URI to dial.
package org.tipline.viewmodel

import java.time.Instant
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.tipline.ffi.ApiException
import org.tipline.ffi.TiplineClientInterface

/** One hotline. */
data class HotlineRow(
    val id: String,
    val name: String,
    /** The number as people write it. */
    val display: String,
    /** The `tel:` URI to hand to the dialler. */
    val dialUri: String,
    val openNow: Boolean,
    /** The core's sentence: "Open now, until 22:00" or "Closed, opens tomorrow at 08:00". */
    val status: String,
)

/** The hotlines screen. */
data class HotlinesState(val region: String? = null, val hotlines: List<HotlineRow> = emptyList(), val notice: Notice? = null)

/** The hotlines for the chosen region; works offline from the cached directory. */
class HotlinesViewModel(private val client: TiplineClientInterface, private val settings: SettingsViewModel) {
    private val _state = MutableStateFlow(HotlinesState())
    val state: StateFlow<HotlinesState> = _state.asStateFlow()

    /** The hotlines as of `now` (the screen calls this again every minute while shown). */
    fun refresh(now: Instant = Instant.now()) {
        val region = settings.region
        val text = settings.text
        if (region == null) {
            _state.value = HotlinesState(notice = Notice.App(AppMessage.NO_REGION))
            return
        }
        _state.value = try {
            val hotlines = client.hotlines(region, text.language, now).map {
                HotlineRow(it.id, it.name, it.display, it.dialUri, it.openNow, it.status)
            }
            HotlinesState(region, hotlines, if (client.directory() == null) Notice.App(AppMessage.NO_DIRECTORY) else null)
        } catch (e: ApiException) {
            HotlinesState(region, notice = text.notice(e))
        }
    }
}
