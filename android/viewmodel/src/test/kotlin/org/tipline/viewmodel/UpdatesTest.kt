package org.tipline.viewmodel

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.tipline.ffi.CaseCheck

/**
 * The background check and the notification it calls for: the neutral words by default, the
 * reporter's own when set, none when turned off, none when nothing is new. Against a real server,
 * with the desk helper answering.
 */
@Suppress("FunctionName")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpdatesTest {
    private val server = TestServer()
    private val neutral = UpdateNotification(Notice.App(AppMessage.UPDATE))

    @AfterAll
    fun stop() = server.close()

    /** Files a report and delivers it; the desk's next `reply` answers it. */
    private suspend fun file(app: AppModel, text: String) {
        app.report.setCategory("violent-extremism")
        app.report.setText(text)
        requireNotNull(app.report.submit())
        assertEquals(0u, app.delivery.flushNow()?.pending)
    }

    @Test
    fun test_background_check_to_notification() = runBlocking {
        Device(server, "updates").use { device ->
            val app = device.app
            app.refreshDirectory()
            app.selectRegion(REGION)
            // Given a delivered report the unit has not answered
            file(app, "Han taler om at rejse til en konfliktzone.")

            // When the background work checks, there is nothing new and nothing to post
            assertNull(app.updates.check(0u))
            assertEquals(CaseCheck(checked = 1u, withNews = 0u, skipped = 0u, failed = 0u), app.updates.state.value.last)

            // When the unit replies, the next check posts the neutral words: no category, unit, count or text
            server.desk(UNIT, "reply", "--text", "Hvilke dage kommer han?")
            assertEquals(neutral, app.updates.check(0u))
            assertEquals(1u, app.updates.state.value.last?.withNews)
            assertEquals(neutral, app.updates.state.value.notification)
            // And the reply is in the case list without opening the case; a second check finds nothing new
            assertNull(app.updates.check(0u))
            assertNull(app.updates.state.value.notification)

            // Given the reporter's own wording
            app.settings.setNotificationWording("  Husk   tandlægen  ")
            file(app, "Der hænger plakater for en terrorgruppe.")
            server.desk(UNIT, "reply", "--text", "Hvor hænger de?")
            // Then the notification says exactly that, and nothing else
            assertEquals(UpdateNotification(Notice.Text("Husk tandlægen")), app.updates.check(0u))

            // Given notifications turned off, news posts nothing (the check still ran and found it)
            app.settings.setUpdateNotifications(false)
            file(app, "En ven deler voldelig propaganda.")
            server.desk(UNIT, "reply", "--text", "Tak, vi ser på det.")
            assertNull(app.updates.check(0u))
            assertEquals(1u, app.updates.state.value.last?.withNews)
            assertEquals(3u, app.updates.state.value.last?.checked)
        }
    }

    @Test
    fun test_the_decision_follows_the_settings_and_they_are_kept() {
        val preferences = MemoryPreferences()
        Device(server, "decision", preferences = preferences).use { device ->
            val updates = device.app.updates
            val settings = device.app.settings
            val news = CaseCheck(checked = 3u, withNews = 2u, skipped = 1u, failed = 0u)
            val quiet = CaseCheck(checked = 3u, withNews = 0u, skipped = 0u, failed = 1u)
            // By default: on, neutral words, and nothing when nothing is new
            assertTrue(settings.state.value.updateNotifications)
            assertNull(settings.state.value.notificationWording)
            assertEquals(neutral, updates.notificationFor(news))
            assertNull(updates.notificationFor(quiet))

            // The reporter's wording, on one line and bounded; blank goes back to neutral
            settings.setNotificationWording("Ny besked\nfra klubben")
            assertEquals(UpdateNotification(Notice.Text("Ny besked fra klubben")), updates.notificationFor(news))
            settings.setNotificationWording("x".repeat(200))
            assertEquals(SettingsViewModel.MAX_WORDING, settings.state.value.notificationWording?.length)
            settings.setNotificationWording("   ")
            assertEquals(neutral, updates.notificationFor(news))

            // Off: nothing, and the choices outlive the screen
            settings.setNotificationWording("Vejret i morgen")
            settings.setUpdateNotifications(false)
            assertNull(updates.notificationFor(news))
            val again = SettingsViewModel(preferences, listOf("da"))
            assertFalse(again.state.value.updateNotifications)
            assertEquals("Vejret i morgen", again.state.value.notificationWording)
            again.setUpdateNotifications(true)
            assertTrue(SettingsViewModel(preferences, listOf("da")).state.value.updateNotifications)
        }
    }

    @Test
    fun test_the_start_check_runs_once_and_posts_nothing() = runBlocking {
        Device(server, "start").use { device ->
            val app = device.app
            app.refreshDirectory()
            app.selectRegion(REGION)
            file(app, "Nogen optager unge til en voldelig gruppe.")
            server.desk(UNIT, "reply", "--text", "Hvor mødes de?")
            // When the app opens, the check finds the reply and the case list shows it, with no notification
            assertTrue(app.updates.checkAtStart(0u))
            assertEquals(1u, app.updates.state.value.last?.withNews)
            assertNull(app.updates.state.value.notification)
            assertEquals(1, app.cases.cases.value.cases.size)
            // And only once per process
            assertFalse(app.updates.checkAtStart(0u))
        }
    }
}
