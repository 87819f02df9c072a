package org.tipline.viewmodel

import java.io.File
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/**
 * The apps' own strings, checked here because neither app is compiled on this machine: every
 * language has every key on both platforms, Android and iOS have the same keys, the arguments
 * match, and every key the Kotlin and Swift sources use exists (what the compilers would catch).
 */
@Suppress("FunctionName")
class AppStringsTest {
    private val languages = listOf("en", "es", "ar", "da")
    private val androidRes = File(repoRoot, "android/app/src/main/res")
    private val iosRes = File(repoRoot, "ios/App/TiplineApp/Resources")

    private fun android(language: String): Map<String, String> {
        val file = File(androidRes, if (language == "en") "values/strings.xml" else "values-$language/strings.xml")
        return Regex("""<string name="([a-z_]+)">(.*?)</string>""").findAll(file.readText()).associate { it.groupValues[1] to it.groupValues[2] }
    }

    private fun ios(language: String): Map<String, String> {
        val file = File(iosRes, "$language.lproj/Localizable.strings")
        return Regex("""^"([a-z_]+)" = "(.*)";$""", RegexOption.MULTILINE).findAll(file.readText()).associate { it.groupValues[1] to it.groupValues[2] }
    }

    private fun sources(root: String, extension: String): List<File> =
        File(repoRoot, root).walk().filter { it.isFile && it.extension == extension }.toList()

    @Test
    fun test_every_language_has_every_key_on_both_platforms() {
        val keys = android("en").keys
        assertTrue(keys.size >= 50, "$keys")
        for (language in languages) {
            val onAndroid = android(language)
            val onIos = ios(language)
            assertEquals(keys, onAndroid.keys, "Android $language")
            assertEquals(keys, onIos.keys, "iOS $language")
            for (key in keys) {
                assertTrue(onAndroid.getValue(key).isNotBlank() && onIos.getValue(key).isNotBlank(), "$language $key is empty")
                // One argument at most, the same on both platforms.
                assertEquals(onAndroid.getValue(key).contains("%1\$s"), onIos.getValue(key).contains("%@"), "$language $key")
            }
        }
    }

    @Test
    fun test_every_key_the_sources_use_exists() {
        val keys = android("en").keys
        val kotlin = sources("android/app/src", "kt").flatMap { file -> Regex("""R\.string\.([a-z_]+)""").findAll(file.readText()).map { it.groupValues[1] } }.toSet()
        assertTrue(kotlin.size >= 50, "$kotlin")
        assertEquals(emptySet<String>(), kotlin - keys, "R.string names without a string")
        // Swift: every snake_case literal in the app and its models is a string key.
        val swift = (sources("ios/App/TiplineApp", "swift") + sources("ios/Sources/TiplineAppModel", "swift"))
            .flatMap { file -> Regex(""""([a-z]+(?:_[a-z]+)+)"""").findAll(file.readText()).map { it.groupValues[1] } }.toSet()
        assertTrue(swift.size >= 50, "$swift")
        assertEquals(emptySet<String>(), swift - keys, "Swift keys without a string")
        // Each of the view models' app messages has its string.
        assertEquals(emptySet<String>(), AppMessage.entries.map { "message_" + it.name.lowercase() }.toSet() - keys)
        // And the keys no source uses are none.
        assertEquals(emptySet<String>(), keys - kotlin - "app_name", "strings Android never uses")
        // (action_cancel: Android's date and time dialogs; iOS pickers are inline.)
        assertEquals(emptySet<String>(), keys - swift - "app_name" - "action_cancel", "strings iOS never uses")
    }
}
