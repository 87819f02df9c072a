package org.tipline.viewmodel

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.tipline.ffi.Language
import org.tipline.ffi.Localizer

/** The outbox screen and delivery when the network comes back: the server goes away and returns. */
@Suppress("FunctionName")
class OutboxDeliveryTest {
    private lateinit var server: TestServer
    private val danish = Localizer(Language.DANISH)

    @BeforeEach
    fun start() {
        server = TestServer()
    }

    @AfterEach
    fun stop() = server.close()

    /** Files a report while the server is down; returns its id once the outbox row says why it waits. */
    private suspend fun fileOffline(app: AppModel): String {
        app.refreshDirectory()
        app.selectRegion(REGION)
        server.stop()
        app.report.setCategory("hate-crime")
        app.report.setText("Racistiske klistermærker ved stationen.")
        val filed = requireNotNull(app.report.submit())
        eventually("the first attempt failed") {
            app.outbox.state.value.rows.singleOrNull()?.status?.startsWith("Ikke sendt endnu") == true
        }
        return filed.reportId
    }

    @Test
    fun test_a_report_filed_offline_waits_and_goes_when_the_network_returns() = runBlocking {
        Device(server, "offline").use { device ->
            val app = device.app
            // Given a report filed while the server cannot be reached
            val reportId = fileOffline(app)

            // Then its row says, in the core's words, why it waits and when it tries again
            val waiting = app.outbox.state.value.rows.single()
            assertEquals(reportId, waiting.reportId)
            assertEquals(OutboxPhase.QUEUED, waiting.phase)
            assertTrue(waiting.canRetry)
            assertTrue(waiting.status.contains(danish.text("reason-offline")), waiting.status)
            assertFalse(waiting.status.contains("{"), waiting.status)
            assertEquals(true, app.delivery.needsBackgroundWork(app.delivery.state.value.last))

            // When the network comes back and the platform says so
            server.start()
            app.delivery.onNetworkAvailable().join()

            // Then it is delivered at once (not after the back-off), and the listener updated the row
            val row = app.outbox.state.value.rows.single()
            assertEquals(OutboxPhase.DELIVERED, row.phase, row.status)
            assertFalse(row.canRetry)
            assertTrue(app.delivery.state.value.online)
            assertEquals(false, app.delivery.needsBackgroundWork(app.delivery.state.value.last))
        }
    }

    @Test
    fun test_retry_sends_a_waiting_report_now() = runBlocking {
        Device(server, "retry").use { device ->
            val app = device.app
            val reportId = fileOffline(app)
            server.start()

            // When the reporter presses "retry"
            assertTrue(app.outbox.retry(reportId))

            // Then it goes at once and the row shows it delivered; a delivered report has nothing to retry
            assertEquals(OutboxPhase.DELIVERED, app.outbox.state.value.rows.single().phase)
            assertFalse(app.outbox.retry(reportId))
        }
    }

    @Test
    fun test_rows_follow_the_language_switch() = runBlocking {
        Device(server, "language").use { device ->
            val app = device.app
            fileOffline(app)
            // When the reporter switches to Spanish, the same row speaks Spanish
            app.selectLanguage(Language.SPANISH)
            val row = app.outbox.state.value.rows.single()
            assertTrue(row.status.contains(Localizer(Language.SPANISH).text("reason-offline")), row.status)
        }
    }
}
