// What the screens show as text. Sentences about the core's own subjects (field problems,
// outbox states and reasons, severities, precisions, hotline hours, the codename advice) come
// from the core's localisation through `Localizer`; the app's own labels (buttons, titles) come
// from the platform's string resources, named here by [AppMessage] when a view model has to
// pick one.
package org.tipline.viewmodel

import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.time.format.FormatStyle
import java.util.Locale
import org.tipline.ffi.ApiException
import org.tipline.ffi.Language
import org.tipline.ffi.Localizer

/** A message for the screen: either a sentence the core localised, or one of the app's own. */
sealed interface Notice {
    /** Already in the reporter's language (from the core's `Localizer`). */
    data class Text(val text: String) : Notice

    /** One of the app's messages; the platform's string resources give its words. */
    data class App(val message: AppMessage) : Notice
}

/** The app's own messages that a view model can raise; each platform has a string for each
 * (Android `R.string.message_*`, iOS `message.*` in Localizable.strings). */
enum class AppMessage {
    /** The directory has not been fetched yet and there is no connection to fetch it. */
    NO_DIRECTORY,

    /** No region is chosen yet (Settings). */
    NO_REGION,

    /** The server knows no case for these words. */
    CASE_NOT_FOUND,

    /** Something named was not found. */
    NOT_FOUND,

    /** A signature or sealed record did not check. */
    CRYPTO,

    /** The phone's storage or key store failed. */
    STORAGE,

    /** The neutral words of the update notification ("You have an update"): nothing more. */
    UPDATE,
}

/** The core's strings in one language, and the dates a screen shows in it. */
class CoreText(val language: Language, val localizer: Localizer, private val zone: ZoneId = ZoneId.systemDefault()) {
    private val locale: Locale = Locale.forLanguageTag(language.code())
    private val dateTime = DateTimeFormatter.ofLocalizedDateTime(FormatStyle.MEDIUM, FormatStyle.SHORT).withLocale(locale).withZone(zone)
    private val time = DateTimeFormatter.ofLocalizedTime(FormatStyle.SHORT).withLocale(locale).withZone(zone)

    /** The core's string `id`. */
    fun text(id: String): String = localizer.text(id)

    /** The core's string `id` with its arguments, put in by the core's Fluent formatting. */
    fun text(id: String, vararg args: Pair<String, String>): String = localizer.textWith(id, args.toMap())

    /** A moment as date and time for this language, in the phone's time zone. */
    fun dateTime(at: Instant): String = dateTime.format(at)

    /** A moment's time of day for this language, in the phone's time zone. */
    fun time(at: Instant): String = time.format(at)

    /** The label of a directory entry (category, unit) for this language, by the core's rule. */
    fun label(labels: Map<String, String>): String = localizer.label(labels)

    /** What the screen says about a failed call. Field problems become the core's sentences. */
    fun notice(error: ApiException): Notice = when (error) {
        is ApiException.Network -> Notice.Text(localizer.text(error.reason))
        is ApiException.InvalidInput -> Notice.Text(error.fields.joinToString("\n") { it.message(localizer) })
        is ApiException.NotFound -> Notice.App(AppMessage.NOT_FOUND)
        is ApiException.Crypto -> Notice.App(AppMessage.CRYPTO)
        is ApiException.Storage -> Notice.App(AppMessage.STORAGE)
    }

    /** Each field's problems as the core's sentences, by field (`text`, `people[0].description`...). */
    fun problems(error: ApiException.InvalidInput): Map<String, String> =
        error.fields.groupBy { it.field }.mapValues { (_, problems) -> problems.joinToString("\n") { it.message(localizer) } }
}
