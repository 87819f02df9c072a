package org.tipline.viewmodel

import java.time.ZoneId
import java.time.ZonedDateTime
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.tipline.ffi.Direction
import org.tipline.ffi.Language

/** Alerts for the reporter's region and hotlines with "open now" and the number to dial. */
@Suppress("FunctionName")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AlertsHotlinesTest {
    private val server = TestServer()

    @AfterAll
    fun stop() = server.close()

    @Test
    fun test_alerts_for_the_region_verified_and_localised() = runBlocking {
        Device(server, "alerts").use { device ->
            val app = device.app
            app.refreshDirectory()
            // Without a region there is nothing to ask for
            app.alerts.refresh()
            assertEquals(Notice.App(AppMessage.NO_REGION), app.alerts.state.value.notice)

            // Given a unit's signed alert for the reporter's region
            val published = server.desk(UNIT, "alert", "--region", REGION, "--language", "da",
                "--title", "Vær opmærksom", "--body", "Opslag om rekruttering i området.")
            // When the reporter's region is chosen, the alerts follow it
            app.selectRegion(REGION)
            val alert = app.alerts.state.value.alerts.single()
            assertEquals(jsonStrings(published, "alert_id"), listOf(alert.alertId))
            assertEquals("Vær opmærksom", alert.title)
            assertEquals(app.settings.text.text("severity-" + alert.severity.name.lowercase()), alert.severityLabel)
            assertTrue(alert.unitName.startsWith("Infohuset"), alert.unitName)
            // And another region has none
            app.selectRegion("ES")
            assertEquals(emptyList<AlertRow>(), app.alerts.state.value.alerts)
        }
    }

    @Test
    fun test_hotlines_open_now_in_their_own_time_zone_with_a_number_to_dial() = runBlocking {
        Device(server, "hotlines").use { device ->
            val app = device.app
            app.refreshDirectory()
            app.selectRegion(REGION)
            val copenhagen = ZoneId.of("Europe/Copenhagen")
            val noon = ZonedDateTime.of(2025, 6, 2, 12, 0, 0, 0, copenhagen).toInstant()
            val night = ZonedDateTime.of(2025, 6, 2, 23, 0, 0, 0, copenhagen).toInstant()

            // At noon in Copenhagen the national line is open, in the core's Danish words
            app.hotlines.refresh(noon)
            val national = app.hotlines.state.value.hotlines.first { it.id == "dk-national-hotline" }
            assertTrue(national.openNow)
            assertTrue(national.status.startsWith("Åben nu"), national.status)
            assertEquals("tel:+4541749090", national.dialUri)
            assertEquals("41 74 90 90", national.display)

            // At 23:00 it is closed and says when it opens
            app.hotlines.refresh(night)
            assertFalse(app.hotlines.state.value.hotlines.first { it.id == "dk-national-hotline" }.openNow)

            // When the reporter switches to Arabic, the hotlines speak Arabic and the layout turns right to left
            app.selectLanguage(Language.ARABIC)
            assertEquals(Direction.RIGHT_TO_LEFT, app.settings.state.value.direction)
            app.hotlines.refresh(noon)
            val arabic = app.hotlines.state.value.hotlines.first { it.id == "dk-national-hotline" }
            assertTrue(arabic.status.startsWith("مفتوح الآن"), arabic.status)
        }
    }
}
