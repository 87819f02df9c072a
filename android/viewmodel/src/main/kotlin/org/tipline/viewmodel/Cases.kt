// The reporter's cases: the list on this device, recovery of a case from its codename (on a new
// phone), and a case's conversation with the unit (replies checked and opened by the core) with
// the reporter's follow-ups.
package org.tipline.viewmodel

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.tipline.ffi.ApiException
import org.tipline.ffi.ConversationMessage
import org.tipline.ffi.TiplineClientInterface

/** The unit names of the directory in use, in the reporter's language. */
class DirectoryNames(private val client: TiplineClientInterface, private val settings: SettingsViewModel) {
    /** The unit's name, or its id if the directory does not know it (yet). */
    fun unit(id: String): String =
        client.directory()?.units?.firstOrNull { it.id == id }?.let { settings.text.label(it.names) } ?: id
}

/** One case in the list. */
data class CaseRow(val caseId: String, val unitName: String, val created: String)

/** One message of a conversation. */
data class MessageRow(
    val messageId: String,
    val fromUnit: Boolean,
    val unitName: String,
    /** Null for a follow-up sent from another phone: it was sealed to the unit only. */
    val text: String?,
    val sentAt: String?,
)

/** The case list and the recovery form. */
data class CasesState(
    val cases: List<CaseRow> = emptyList(),
    val codenameInput: String = "",
    /** The core's sentence about the codename typed (e.g. not a valid codename). */
    val codenameProblem: String? = null,
    val recovering: Boolean = false,
    val notice: Notice? = null,
)

/** One case's conversation. */
data class ConversationState(
    val caseId: String,
    val unitName: String = "",
    val messages: List<MessageRow> = emptyList(),
    val followUp: String = "",
    val loading: Boolean = false,
    val sending: Boolean = false,
    val notice: Notice? = null,
)

/** Cases, recovery and conversations. */
class CaseViewModel(
    private val client: TiplineClientInterface,
    private val settings: SettingsViewModel,
    private val names: DirectoryNames,
) {
    private val _cases = MutableStateFlow(CasesState())
    val cases: StateFlow<CasesState> = _cases.asStateFlow()
    private val _conversation = MutableStateFlow<ConversationState?>(null)

    /** The open conversation, if any. */
    val conversation: StateFlow<ConversationState?> = _conversation.asStateFlow()
    private var messages: List<ConversationMessage> = emptyList()

    /** Reads the cases on this device. */
    suspend fun refreshCases() {
        val text = settings.text
        try {
            val cases = client.cases().map { CaseRow(it.caseId, if (it.unitId.isEmpty()) "" else names.unit(it.unitId), text.dateTime(it.created)) }
            _cases.update { it.copy(cases = cases, notice = null) }
        } catch (e: ApiException) {
            _cases.update { it.copy(notice = text.notice(e)) }
        }
    }

    fun setCodenameInput(text: String) = _cases.update { it.copy(codenameInput = text, codenameProblem = null) }

    /**
     * Recovers the case of the codename typed (the core checks the words and asks the server
     * whether they open a case) and opens its conversation. Returns the case id, or null.
     */
    suspend fun recover(): String? {
        val text = settings.text
        _cases.update { it.copy(recovering = true, codenameProblem = null, notice = null) }
        return try {
            val caseId = client.recoverCase(_cases.value.codenameInput)
            _cases.update { it.copy(codenameInput = "", recovering = false) }
            refreshCases()
            openCase(caseId)
            caseId
        } catch (e: ApiException.InvalidInput) {
            _cases.update { it.copy(recovering = false, codenameProblem = text.problems(e).values.joinToString("\n")) }
            null
        } catch (e: ApiException.NotFound) {
            _cases.update { it.copy(recovering = false, notice = Notice.App(AppMessage.CASE_NOT_FOUND)) }
            null
        } catch (e: ApiException) {
            _cases.update { it.copy(recovering = false, notice = text.notice(e)) }
            null
        }
    }

    /** Opens a case's conversation and fetches what is new in it. */
    suspend fun openCase(caseId: String) {
        val unitName = _cases.value.cases.firstOrNull { it.caseId == caseId }?.unitName ?: ""
        _conversation.value = ConversationState(caseId = caseId, unitName = unitName, loading = true)
        messages = emptyList()
        reload()
    }

    /** Fetches the open conversation again. */
    suspend fun reload() {
        val caseId = _conversation.value?.caseId ?: return
        _conversation.update { it?.copy(loading = true) }
        try {
            val fetched = client.conversation(caseId)
            if (_conversation.value?.caseId != caseId) return
            messages = fetched
            render()
            _conversation.update { it?.copy(loading = false, notice = null) }
        } catch (e: ApiException) {
            _conversation.update { it?.copy(loading = false, notice = settings.text.notice(e)) }
        }
    }

    fun setFollowUp(text: String) = _conversation.update { it?.copy(followUp = text) }

    /** Sends the follow-up typed. On failure the text stays typed; sending it again is the same message. */
    suspend fun sendFollowUp(): Boolean {
        val state = _conversation.value ?: return false
        _conversation.update { it?.copy(sending = true, notice = null) }
        return try {
            val sent = client.sendFollowUp(state.caseId, state.followUp)
            if (_conversation.value?.caseId != state.caseId) return true
            messages = messages + sent
            render()
            _conversation.update { it?.copy(followUp = "", sending = false) }
            true
        } catch (e: ApiException.InvalidInput) {
            _conversation.update { it?.copy(sending = false, notice = Notice.Text(settings.text.problems(e).values.joinToString("\n"))) }
            false
        } catch (e: ApiException) {
            _conversation.update { it?.copy(sending = false, notice = settings.text.notice(e)) }
            false
        }
    }

    /** Closes the conversation (back to the list). */
    fun close() {
        _conversation.value = null
        messages = emptyList()
    }

    /** The conversation's rows again, in the current language. */
    fun render() {
        val text = settings.text
        val rows = messages.map {
            MessageRow(it.messageId, it.fromUnit, names.unit(it.unitId), it.text, it.sentAt?.let(text::dateTime))
        }
        val unitName = messages.lastOrNull()?.unitId?.let(names::unit)
        _conversation.update { it?.copy(messages = rows, unitName = unitName ?: it.unitName) }
    }

    /** Forgets the list, what was typed and the open conversation (quick exit). */
    fun clear() {
        _cases.value = CasesState()
        close()
    }
}
