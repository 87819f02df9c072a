package org.tipline.viewmodel

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** Quick exit leaves nothing on screen, and loses nothing that was filed. */
@Suppress("FunctionName")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QuickExitTest {
    private val server = TestServer()

    @AfterAll
    fun stop() = server.close()

    @Test
    fun test_quick_exit_forgets_the_screens_but_keeps_the_outbox() = runBlocking {
        Device(server, "quick-exit").use { device ->
            val app = device.app
            app.refreshDirectory()
            app.selectRegion(REGION)
            // Given a filed report whose codename is on screen, an open case and a half-written report
            app.report.setCategory("violent-extremism")
            app.report.setText("Trusler mod en moske.")
            val filed = requireNotNull(app.report.submit())
            app.cases.refreshCases()
            app.cases.openCase(filed.caseId)
            app.cases.setFollowUp("Der var tre personer")
            app.report.setText("Et nyt udkast")
            app.cases.setCodenameInput("nogle ord")

            // When the reporter presses quick exit
            app.quickExit()

            // Then nothing typed or shown is left in the app
            assertEquals(ReportForm(), app.report.state.value.form)
            assertNull(app.codename.state.value)
            assertNull(app.cases.conversation.value)
            assertEquals(CasesState(), app.cases.cases.value)
            assertEquals(OutboxState(), app.outbox.state.value)
            // But the sealed report is still in the outbox on the device
            assertEquals(listOf(filed.reportId), app.client.outbox().map { it.reportId })
        }
    }
}
