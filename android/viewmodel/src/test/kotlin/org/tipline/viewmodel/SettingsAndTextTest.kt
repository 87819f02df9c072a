package org.tipline.viewmodel

import java.net.URI
import java.util.Base64
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.tipline.ffi.Direction
import org.tipline.ffi.Language
import org.tipline.ffi.Localizer

/** The language switch, its layout direction, the region choice, and the core's strings. */
@Suppress("FunctionName")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SettingsAndTextTest {
    private val server = TestServer()

    @AfterAll
    fun stop() = server.close()

    @Test
    fun test_language_follows_the_device_then_the_choice_with_its_direction() {
        // Given a phone set to French, then Egyptian Arabic: the core negotiates Arabic
        val preferences = MemoryPreferences()
        val settings = SettingsViewModel(preferences, listOf("fr-FR", "ar-EG"))
        assertEquals(Language.ARABIC, settings.state.value.language)
        assertEquals(Direction.RIGHT_TO_LEFT, settings.state.value.direction)
        assertEquals(listOf("es", "en", "ar", "da"), settings.state.value.languages.map { it.code })
        assertEquals(listOf("Español", "English", "العربية", "Dansk"), settings.state.value.languages.map { it.name })

        // When the reporter switches to Danish
        settings.selectLanguage(Language.DANISH)

        // Then the layout runs left to right, and the choice outlives the screen
        assertEquals(Direction.LEFT_TO_RIGHT, settings.state.value.direction)
        assertEquals("da", settings.languageCode)
        assertEquals(Language.DANISH, SettingsViewModel(preferences, listOf("ar")).state.value.language)
        // And a phone in a language the core does not speak gets English
        assertEquals(Language.ENGLISH, SettingsViewModel(MemoryPreferences(), listOf("fr-FR")).state.value.language)
    }

    @Test
    fun test_regions_come_from_the_directory_and_the_choice_is_kept() = runBlocking {
        Device(server, "regions").use { device ->
            val app = device.app
            assertEquals(emptyList<RegionOption>(), app.settings.state.value.regions)
            // When the directory is fetched
            app.refreshDirectory()
            // Then the regions on offer are those its units serve, named by their units
            val regions = app.settings.state.value.regions
            assertTrue(regions.map { it.code }.containsAll(listOf("DK", "DK-84", "DK-81", "ES")), regions.toString())
            assertTrue(regions.first { it.code == "DK-84" }.label.contains("Infohuset"), regions.toString())
            // And a chosen region is kept
            app.selectRegion("DK-84")
            assertEquals("DK-84", device.preferences["region"])
            assertEquals("DK-84", app.settings.region)
        }
    }

    @Test
    fun test_the_relay_choice_is_on_by_default_kept_by_the_core_and_followed() = runBlocking {
        // Given a phone that knows no relay yet
        Device(server, "relay-choice").use { device ->
            device.app.refreshRelay()
            // Then the choice is on, but calls go straight to the intake
            assertEquals(RelayState(enabled = true, active = false), device.app.relay.value)
            // When the reporter turns it off
            device.app.setUseRelay(false)
            assertEquals(RelayState(enabled = false, active = false), device.app.relay.value)
        }
        // Then the core kept the choice for the next start
        Device(server, "relay-choice").use { device ->
            device.app.refreshRelay()
            assertFalse(device.app.relay.value.enabled)
            assertFalse(device.app.client.useRelay())
        }

        // Given a phone configured with a relay and the intake gateway's published keys
        val keys = URI("${server.url}/.well-known/ohttp-gateway").toURL().openStream().use { it.readBytes() }
        val config = server.config("relay-known").copy(
            relayUrl = "http://127.0.0.2:9/",
            gatewayKeys = Base64.getUrlEncoder().withoutPadding().encodeToString(keys),
        )
        Device(server, "relay-known", config = config).use { device ->
            device.app.refreshRelay()
            // Then calls go through the relay
            assertEquals(RelayState(enabled = true, active = true), device.app.relay.value)
            assertTrue(device.app.client.throughRelay())
            // When the reporter turns it off, straight to the intake; on again, through the relay
            device.app.setUseRelay(false)
            assertEquals(RelayState(enabled = false, active = false), device.app.relay.value)
            assertFalse(device.app.client.throughRelay())
            device.app.setUseRelay(true)
            assertEquals(RelayState(enabled = true, active = true), device.app.relay.value)
        }
    }

    @Test
    fun test_core_sentences_get_their_arguments_in_every_language() {
        for (language in listOf(Language.SPANISH, Language.ENGLISH, Language.ARABIC, Language.DANISH)) {
            val text = CoreText(language, Localizer(language))
            // The core puts each argument in its place (Localizer.textWith)
            val sending = text.text("outbox-sending", "percent" to "42")
            val retrying = text.text("outbox-retrying", "reason" to text.text("reason-offline"), "time" to "14:05")
            for (sentence in listOf(sending, retrying)) {
                assertFalse(sentence.contains("{$"), "$language: $sentence")
                assertFalse(sentence.contains("{"), "$language: $sentence")
            }
            assertTrue(sending.contains("42") && retrying.contains("14:05") && retrying.contains(text.text("reason-offline")), retrying)
            // An id the core does not know shows up as itself rather than vanishing
            assertEquals("no-such-string", text.text("no-such-string"))
        }
        // In Arabic the values keep their isolation marks, so that numbers stay in order
        val arabic = CoreText(Language.ARABIC, Localizer(Language.ARABIC)).text("outbox-sending", "percent" to "42")
        assertTrue(arabic.contains("\u206842\u2069"), arabic)
        // Labels from the directory: the reporter's language, else English, else any
        val danish = CoreText(Language.DANISH, Localizer(Language.DANISH))
        assertEquals("dansk", danish.label(mapOf("en" to "english", "da" to "dansk")))
        assertEquals("english", danish.label(mapOf("en" to "english", "es" to "español")))
        assertEquals("español", danish.label(mapOf("es" to "español")))
    }
}
