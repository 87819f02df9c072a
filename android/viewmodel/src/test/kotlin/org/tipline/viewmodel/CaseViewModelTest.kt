package org.tipline.viewmodel

import java.io.File
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.tipline.ffi.ClientConfig
import org.tipline.ffi.Filed
import org.tipline.ffi.Language
import org.tipline.ffi.Localizer
import org.tipline.ffi.TiplineClient

/** The case list, the conversation with follow-ups, and recovery from a codename on another phone. */
@Suppress("FunctionName")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CaseViewModelTest {
    private val server = TestServer()

    @AfterAll
    fun stop() = server.close()

    private suspend fun file(app: AppModel, text: String): Filed {
        app.refreshDirectory()
        app.selectRegion(REGION)
        app.report.setCategory("online-propaganda")
        app.report.setText(text)
        val filed = requireNotNull(app.report.submit())
        app.delivery.flushNow()
        return filed
    }

    @Test
    fun test_conversation_follow_up_and_recovery_on_another_phone() = runBlocking {
        Device(server, "first-phone").use { first ->
            // Given a delivered report that the unit answered
            val filed = file(first.app, "En konto deler propaganda fra en terrorgruppe.")
            server.desk(UNIT, "reply", "--text", REPLY)
            val cases = first.app.cases
            cases.refreshCases()
            val row = cases.cases.value.cases.single()
            assertEquals(filed.caseId, row.caseId)
            assertTrue(row.unitName.startsWith("Infohuset"), row.unitName)

            // When the reporter opens the case
            cases.openCase(filed.caseId)

            // Then the unit's reply is there, opened and checked by the core
            val conversation = cases.conversation.value!!
            assertEquals(listOf(true to REPLY), conversation.messages.map { it.fromUnit to it.text })
            assertTrue(conversation.unitName.startsWith("Infohuset"))

            // When the reporter answers
            cases.setFollowUp("Kontoen hedder @eksempel.")
            assertTrue(cases.sendFollowUp())

            // Then the follow-up joins the conversation and the box is empty
            assertEquals(listOf(true to REPLY, false to "Kontoen hedder @eksempel."), cases.conversation.value!!.messages.map { it.fromUnit to it.text })
            assertEquals("", cases.conversation.value!!.followUp)

            // When the reporter recovers the case on a new phone from the codename alone
            Device(server, "second-phone").use { second ->
                second.app.refreshDirectory()
                second.app.cases.setCodenameInput(filed.codename)
                assertEquals(filed.caseId, second.app.cases.recover())
                // Then the conversation opens with the unit's reply; the follow-up was sealed to the unit
                val recovered = second.app.cases.conversation.value!!
                assertEquals(filed.caseId, recovered.caseId)
                assertEquals(listOf(true to REPLY, false to null), recovered.messages.map { it.fromUnit to it.text })
                assertEquals("", second.app.cases.cases.value.codenameInput)
            }
        }
    }

    @Test
    fun test_recovery_says_what_is_wrong_with_the_codename() = runBlocking {
        Device(server, "recovery").use { device ->
            val cases = device.app.cases
            // A typo: the core's sentence for the codename field
            cases.setCodenameInput("not a codename")
            assertNull(cases.recover())
            val problem = cases.cases.value.codenameProblem
            assertTrue(!problem.isNullOrBlank() && !problem.contains("field-"), problem)
            assertEquals("not a codename", cases.cases.value.codenameInput)

            // Words that are a codename but open no case on the server
            val unknown = codenameTheServerNeverSaw()
            cases.setCodenameInput(unknown)
            assertNull(cases.cases.value.codenameProblem)
            assertNull(cases.recover())
            assertEquals(Notice.App(AppMessage.CASE_NOT_FOUND), cases.cases.value.notice)
        }
    }

    /** A real codename for a report that never reached the server: filed on a phone whose
     * directory is cached but whose server address leads nowhere. */
    private suspend fun codenameTheServerNeverSaw(): String {
        val config = server.config("never-sent")
        TiplineClient.open(config, FixedKeyStore()).use { it.refreshDirectory() }
        val offline: ClientConfig = config.copy(baseUrl = "http://127.0.0.1:9")
        return TiplineClient.open(offline, FixedKeyStore()).use { client ->
            client.fileReport(org.tipline.ffi.Draft(category = "other", text = "x", language = "da", region = REGION)).codename
        }
    }

    private companion object {
        const val REPLY = "Tak. Vi kigger på kontoen i dag."
    }
}
