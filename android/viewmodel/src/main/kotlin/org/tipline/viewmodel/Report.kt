// Writing a report: the form's state, the categories and precisions on offer, and filing. The
// core checks every field and answers with each problem by field; this model only keeps what the
// reporter typed and shows the core's sentences next to the fields they belong to.
package org.tipline.viewmodel

import java.time.Instant
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.tipline.ffi.ApiException
import org.tipline.ffi.Contact
import org.tipline.ffi.DirectoryInfo
import org.tipline.ffi.Draft
import org.tipline.ffi.DraftAttachment
import org.tipline.ffi.DraftPlace
import org.tipline.ffi.Filed
import org.tipline.ffi.Person
import org.tipline.ffi.Precision
import org.tipline.ffi.TiplineClientInterface
import org.tipline.ffi.When
import org.tipline.ffi.changedFields

/** A category the reporter can choose, labelled in the reporter's language. */
data class CategoryOption(val id: String, val label: String)

/** A location precision, labelled by the core ("Neighbourhood (about 1 km)"). */
data class PrecisionOption(val precision: Precision, val label: String)

/** How the reporter says when it happened. */
enum class WhenMode { UNKNOWN, EXACT, BETWEEN }

/** How the reporter says where it happened. */
enum class PlaceMode { NONE, POSITION, DESCRIBED }

/** What kind of file an attachment is, for its icon. */
enum class MediaKind { PHOTO, VIDEO, AUDIO, OTHER }

/** Someone involved, as typed. */
data class PersonInput(val description: String = "", val name: String = "")

/** A file picked by the reporter: the app's own copy of it, by path (metadata still in: the core
 * strips it while reading the file in chunks), and its size in bytes. */
data class AttachmentInput(val name: String, val mediaType: String, val path: String, val size: Long) {
    val kind: MediaKind
        get() = when (mediaType.substringBefore('/')) {
            "image" -> MediaKind.PHOTO
            "video" -> MediaKind.VIDEO
            "audio" -> MediaKind.AUDIO
            else -> MediaKind.OTHER
        }
}

/** The form as the reporter filled it in. */
data class ReportForm(
    val category: String? = null,
    val text: String = "",
    val whenMode: WhenMode = WhenMode.UNKNOWN,
    val exactAt: Instant? = null,
    val earliest: Instant? = null,
    val latest: Instant? = null,
    val placeMode: PlaceMode = PlaceMode.NONE,
    val latitude: Double? = null,
    val longitude: Double? = null,
    val precision: Precision = Precision.NEIGHBOURHOOD,
    val placeText: String = "",
    val people: List<PersonInput> = emptyList(),
    val wantsContact: Boolean = false,
    val contactName: String = "",
    val contactPhone: String = "",
    val contactEmail: String = "",
    val attachments: List<AttachmentInput> = emptyList(),
) {
    /** The draft the core checks and seals. Empty optional fields are left out. */
    fun toDraft(language: String, region: String?): Draft = Draft(
        category = category ?: "",
        text = text,
        language = language,
        region = region,
        unitId = null,
        happened = when (whenMode) {
            WhenMode.UNKNOWN -> null
            WhenMode.EXACT -> exactAt?.let { When.Exact(it) }
            WhenMode.BETWEEN -> if (earliest != null && latest != null) When.Between(earliest, latest) else null
        },
        place = when (placeMode) {
            PlaceMode.NONE -> null
            PlaceMode.POSITION -> if (latitude != null && longitude != null) DraftPlace.Position(latitude, longitude, precision) else null
            PlaceMode.DESCRIBED -> DraftPlace.Described(placeText)
        },
        people = people.map { Person(description = it.description, name = it.name.ifBlank { null }) },
        contact = if (wantsContact) {
            Contact(name = contactName.ifBlank { null }, phone = contactPhone.ifBlank { null }, email = contactEmail.ifBlank { null })
        } else {
            null
        },
        attachments = attachments.map { DraftAttachment(name = it.name, mediaType = it.mediaType, path = it.path) },
    )
}

/** The report screen. */
data class ReportState(
    val categories: List<CategoryOption> = emptyList(),
    val precisions: List<PrecisionOption> = emptyList(),
    val form: ReportForm = ReportForm(),
    /** The core's sentence for each field to correct, by field: `category`, `unit`, `text`,
     * `when`, `place`, `people`, `people[0].description`, `contact.email`, `attachments[1]`... */
    val problems: Map<String, String> = emptyMap(),
    val notice: Notice? = null,
    val submitting: Boolean = false,
)

/** Writing and filing a report. Filing works offline: the core seals it into the outbox. */
class ReportViewModel(
    private val client: TiplineClientInterface,
    private val settings: SettingsViewModel,
    private val codename: CodenameViewModel,
    private val delivery: ConnectivityDelivery,
) {
    private val _state = MutableStateFlow(ReportState())
    val state: StateFlow<ReportState> = _state.asStateFlow()

    /** The categories (from the directory) and precisions (from the core), in the current language. */
    fun relabel(directory: DirectoryInfo? = client.directory()) {
        val text = settings.text
        _state.update { state ->
            state.copy(
                categories = directory?.categories.orEmpty().map { CategoryOption(it.id, text.label(it.labels)) },
                precisions = PRECISIONS.map { (precision, id) -> PrecisionOption(precision, text.text(id)) },
            )
        }
    }

    /** The problem fields an edit from `old` to `new` touched, by the core's rule. */
    private fun changed(old: ReportForm, new: ReportForm): Set<String> {
        val (language, region) = settings.languageCode to settings.region
        return try {
            changedFields(old.toDraft(language, region), new.toDraft(language, region)).toSet()
        } catch (e: ApiException) {
            state.value.problems.keys
        }
    }

    /** Changes the form; a changed field's problem goes away until the next check. */
    fun edit(change: (ReportForm) -> ReportForm) {
        _state.update { state ->
            val form = change(state.form)
            state.copy(form = form, problems = if (form == state.form) state.problems else state.problems - changed(state.form, form))
        }
    }

    fun setCategory(id: String) = edit { it.copy(category = id) }
    fun setText(text: String) = edit { it.copy(text = text) }
    fun setWhenUnknown() = edit { it.copy(whenMode = WhenMode.UNKNOWN) }
    fun setExact(at: Instant) = edit { it.copy(whenMode = WhenMode.EXACT, exactAt = at) }
    fun setBetween(earliest: Instant?, latest: Instant?) = edit { it.copy(whenMode = WhenMode.BETWEEN, earliest = earliest, latest = latest) }
    fun setNoPlace() = edit { it.copy(placeMode = PlaceMode.NONE) }
    fun setPosition(latitude: Double, longitude: Double) = edit { it.copy(placeMode = PlaceMode.POSITION, latitude = latitude, longitude = longitude) }
    fun setPrecision(precision: Precision) = edit { it.copy(precision = precision) }
    fun setPlaceText(text: String) = edit { it.copy(placeMode = PlaceMode.DESCRIBED, placeText = text) }
    fun addPerson() = edit { it.copy(people = it.people + PersonInput()) }
    fun setPerson(index: Int, person: PersonInput) = edit { it.copy(people = it.people.mapIndexed { i, p -> if (i == index) person else p }) }
    fun removePerson(index: Int) = edit { it.copy(people = it.people.filterIndexed { i, _ -> i != index }) }
    fun setWantsContact(wants: Boolean) = edit { it.copy(wantsContact = wants) }
    fun setContact(name: String, phone: String, email: String) = edit { it.copy(contactName = name, contactPhone = phone, contactEmail = email) }
    fun attach(name: String, mediaType: String, path: String, size: Long) = edit { it.copy(attachments = it.attachments + AttachmentInput(name, mediaType, path, size)) }
    fun removeAttachment(index: Int) = edit { it.copy(attachments = it.attachments.filterIndexed { i, _ -> i != index }) }

    /**
     * Files the report: the core checks it, strips photo metadata, blurs the position, seals it
     * into the outbox and gives the codename, all without a network. On success the form is
     * cleared, the codename screen opens and delivery starts; on a field problem each field
     * gets the core's sentence. Returns what was filed, or null.
     */
    suspend fun submit(): Filed? {
        val form = _state.value.form
        _state.update { it.copy(submitting = true, notice = null) }
        val text = settings.text
        return try {
            val filed = client.fileReport(form.toDraft(settings.languageCode, settings.region))
            _state.update { it.copy(form = ReportForm(), problems = emptyMap(), submitting = false) }
            codename.show(filed, form.attachments.map { it.name })
            delivery.flushSoon()
            filed
        } catch (e: ApiException.InvalidInput) {
            _state.update { it.copy(problems = text.problems(e), submitting = false) }
            null
        } catch (e: ApiException.NotFound) {
            // No directory on the device yet (never online): nothing to seal to.
            _state.update { it.copy(notice = Notice.App(AppMessage.NO_DIRECTORY), submitting = false) }
            null
        } catch (e: ApiException) {
            _state.update { it.copy(notice = text.notice(e), submitting = false) }
            null
        }
    }

    /** Forgets everything typed (quick exit). */
    fun clear() {
        _state.update { it.copy(form = ReportForm(), problems = emptyMap(), notice = null, submitting = false) }
    }

    private companion object {
        val PRECISIONS = listOf(
            Precision.STREET to "precision-street",
            Precision.NEIGHBOURHOOD to "precision-neighbourhood",
            Precision.TOWN to "precision-town",
            Precision.REGION to "precision-region",
        )
    }
}
