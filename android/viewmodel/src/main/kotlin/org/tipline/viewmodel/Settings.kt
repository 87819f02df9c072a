// The language switch (es, en, ar, da, with the layout direction the core gives each), the
// reporter's region, which picks the unit, the alerts and the hotlines, and the update
// notifications (on or off, and the reporter's own wording). The choices are kept in the
// platform's preferences (SharedPreferences, UserDefaults) through [Preferences].
package org.tipline.viewmodel

import java.util.Locale
import java.util.concurrent.ConcurrentHashMap
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import org.tipline.ffi.Direction
import org.tipline.ffi.DirectoryInfo
import org.tipline.ffi.Language
import org.tipline.ffi.Localizer
import org.tipline.ffi.languageFromTag
import org.tipline.ffi.negotiateLanguage

/** Small key-value storage for the reporter's choices; the platform implements it. */
interface Preferences {
    /** The value stored under `key`, if any. */
    operator fun get(key: String): String?

    /** Stores `value` under `key`; null removes it. */
    operator fun set(key: String, value: String?)
}

/** Preferences in memory, for tests and previews. */
class MemoryPreferences : Preferences {
    private val values = ConcurrentHashMap<String, String>()

    override fun get(key: String): String? = values[key]

    override fun set(key: String, value: String?) {
        if (value == null) values.remove(key) else values[key] = value
    }
}

/** A language the switch offers, named in itself ("español", "العربية"). */
data class LanguageOption(val language: Language, val code: String, val name: String)

/** A region the reporter can choose, labelled with the units that serve it. */
data class RegionOption(val code: String, val label: String)

/** What the settings screen shows, and what the whole app's layout follows. */
data class SettingsState(
    val language: Language,
    /** From the core: right to left for Arabic. The app's root layout follows it. */
    val direction: Direction,
    val languages: List<LanguageOption>,
    val region: String?,
    val regions: List<RegionOption> = emptyList(),
    /** Whether a background check that finds news may post a notification (on by default). */
    val updateNotifications: Boolean = true,
    /** The reporter's own words for that notification; null for the neutral "You have an update". */
    val notificationWording: String? = null,
)

/**
 * The reporter's language and region. The first language is the stored choice, else the first
 * of the device's languages that the core speaks (the core negotiates), else English.
 */
class SettingsViewModel(private val preferences: Preferences, deviceLanguages: List<String>, deviceRegion: String? = null) {
    private val localizers = ConcurrentHashMap<Language, CoreText>()
    private var directory: DirectoryInfo? = null
    private val _state: MutableStateFlow<SettingsState>
    val state: StateFlow<SettingsState>

    init {
        val language = preferences[LANGUAGE]?.let { languageFromTag(it) } ?: negotiateLanguage(deviceLanguages)
        val languages = LANGUAGES.map { LanguageOption(it, it.code(), autonym(it)) }
        _state = MutableStateFlow(
            SettingsState(
                language, language.direction(), languages, preferences[REGION] ?: deviceRegion?.uppercase(),
                updateNotifications = preferences[UPDATE_NOTIFICATIONS] != OFF,
                notificationWording = preferences[NOTIFICATION_WORDING],
            ),
        )
        state = _state.asStateFlow()
    }

    /** The core's strings in the chosen language. */
    val text: CoreText get() = text(state.value.language)

    /** The core's strings in `language` (one `Localizer` per language, kept). */
    fun text(language: Language): CoreText = localizers.getOrPut(language) { CoreText(language, Localizer(language)) }

    /** The chosen language's code, for a draft's `language` and the platform's locale. */
    val languageCode: String get() = state.value.language.code()

    /** The chosen region, if any. */
    val region: String? get() = state.value.region

    /** Switches the language; the layout direction comes with it. */
    fun selectLanguage(language: Language) {
        preferences[LANGUAGE] = language.code()
        _state.update { it.copy(language = language, direction = language.direction()) }
        directory?.let(::directoryChanged)
    }

    /** Chooses the region (an ISO 3166 code from [SettingsState.regions]). */
    fun selectRegion(code: String) {
        preferences[REGION] = code
        _state.update { it.copy(region = code) }
    }

    /** Turns the notification after a background check that found news on or off. */
    fun setUpdateNotifications(on: Boolean) {
        preferences[UPDATE_NOTIFICATIONS] = if (on) null else OFF
        _state.update { it.copy(updateNotifications = on) }
    }

    /**
     * The reporter's own words for the notification (at most [MAX_WORDING] characters, on one
     * line); blank goes back to the neutral wording.
     */
    fun setNotificationWording(words: String?) {
        val wording = words?.replace(Regex("\\s+"), " ")?.trim()?.take(MAX_WORDING)?.takeIf { it.isNotEmpty() }
        preferences[NOTIFICATION_WORDING] = wording
        _state.update { it.copy(notificationWording = wording) }
    }

    /** The directory in use changed: the regions on offer are the ones its units serve. */
    fun directoryChanged(directory: DirectoryInfo) {
        this.directory = directory
        val text = text
        val regions = directory.units.flatMap { it.regions }.distinct().sorted().map { code ->
            val units = directory.units.filter { code in it.regions }.joinToString(" · ") { text.label(it.names) }
            RegionOption(code, "$code – $units")
        }
        _state.update { it.copy(regions = regions) }
    }

    companion object {
        /** The longest wording the reporter can give the notification. */
        const val MAX_WORDING = 60
        private const val LANGUAGE = "language"
        private const val REGION = "region"
        private const val UPDATE_NOTIFICATIONS = "update-notifications"
        private const val NOTIFICATION_WORDING = "notification-wording"
        private const val OFF = "off"
        private val LANGUAGES = listOf(Language.SPANISH, Language.ENGLISH, Language.ARABIC, Language.DANISH)

        /** The language's name in itself, from the platform's locale data. */
        private fun autonym(language: Language): String {
            val locale = Locale.forLanguageTag(language.code())
            return locale.getDisplayLanguage(locale).replaceFirstChar { it.titlecase(locale) }
        }
    }
}
