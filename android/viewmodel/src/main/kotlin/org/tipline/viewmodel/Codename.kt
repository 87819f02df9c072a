// The codename, shown once right after filing, with the core's advice on keeping it and what
// happened to each attachment's metadata. Once the reporter says it is kept, the app lets go of
// it: it is never shown again on its own, and recovering a case needs the words.
package org.tipline.viewmodel

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import org.tipline.ffi.Filed

/** One attachment's note: whether the core could strip its metadata. */
data class AttachmentNote(val name: String, val stripped: Boolean, val text: String)

/** The codename screen. */
data class CodenameState(
    val caseId: String,
    val codename: String,
    /** The words one by one, for a numbered list that is easy to copy by hand. */
    val words: List<String>,
    /** The core's advice: write them down, anyone who has them can read the case. */
    val advice: String,
    val attachments: List<AttachmentNote>,
)

/** Holds a fresh codename until the reporter has kept it. */
class CodenameViewModel(private val settings: SettingsViewModel) {
    private val _state = MutableStateFlow<CodenameState?>(null)

    /** The codename to show, or null once kept (or never filed). */
    val state: StateFlow<CodenameState?> = _state.asStateFlow()

    private var shown: Pair<Filed, List<String>>? = null

    /** A report was filed: shows its codename. */
    fun show(filed: Filed, attachmentNames: List<String>) {
        shown = filed to attachmentNames
        val text = settings.text
        _state.value = CodenameState(
            caseId = filed.caseId,
            codename = filed.codename,
            words = filed.codename.split(' ').filter { it.isNotEmpty() },
            advice = text.text("codename-keep"),
            attachments = attachmentNames.zip(filed.stripped) { name, stripped ->
                AttachmentNote(name, stripped, text.text(if (stripped) "metadata-removed" else "metadata-kept"))
            },
        )
    }

    /** The reporter has kept the words (or left the app): forget them. */
    fun kept() {
        shown = null
        _state.value = null
    }

    /** The language changed: the advice and notes again, in the new one. */
    fun relabel() {
        shown?.let { (filed, names) -> show(filed, names) }
    }
}
