package org.tipline.viewmodel

import java.io.File
import java.time.Instant
import java.time.temporal.ChronoUnit
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.tipline.ffi.Language
import org.tipline.ffi.Localizer
import org.tipline.ffi.Precision

/** Writing a report, the core's field problems, filing, and the codename shown once. */
@Suppress("FunctionName")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReportViewModelTest {
    private val server = TestServer()
    private val danish = Localizer(Language.DANISH)

    @AfterAll
    fun stop() = server.close()

    @Test
    fun test_field_problems_are_the_cores_sentences_next_to_their_fields() = runBlocking {
        Device(server, "problems").use { device ->
            // Given a Danish phone with the directory: categories are labelled in Danish
            val app = device.app
            app.refreshDirectory()
            app.selectRegion(REGION)
            val report = app.report
            assertTrue(report.state.value.categories.any { it.id == "radicalisation" && it.label == "En person er ved at blive radikaliseret" }, report.state.value.categories.toString())
            assertEquals(danish.text("precision-neighbourhood"), report.state.value.precisions.first { it.precision == Precision.NEIGHBOURHOOD }.label)

            // When the reporter sends an empty form with an empty person
            report.addPerson()
            assertNull(report.submit())

            // Then each field has the core's Danish sentence, and nothing was filed
            val problems = report.state.value.problems
            assertEquals(setOf("category", "text", "people[0].description"), problems.keys)
            assertEquals(danish.text("field-required"), problems["text"])
            assertTrue(app.client.outbox().isEmpty())

            // And a field's problem goes once the reporter edits that field
            report.setText("Han deler videoer i klassens gruppechat.")
            assertEquals(setOf("category", "people[0].description"), report.state.value.problems.keys)
        }
    }

    @Test
    fun test_filing_clears_the_form_shows_the_codename_once_and_delivers() = runBlocking {
        Device(server, "filing").use { device ->
            val app = device.app
            app.refreshDirectory()
            app.selectRegion(REGION)
            val report = app.report
            // Given a full form: category, text, when, where with a precision, a person, contact, a photo
            val photo = File(repoRoot, "ffi/testdata/photo-with-exif.jpg")
            report.setCategory("radicalisation")
            report.setText("En ung mand deler IS-videoer i en gruppechat for skoleelever.")
            report.setBetween(Instant.now().minus(2, ChronoUnit.DAYS), Instant.now().minus(1, ChronoUnit.DAYS))
            report.setPosition(55.6761, 12.5683)
            report.setPrecision(Precision.TOWN)
            report.addPerson()
            report.setPerson(0, PersonInput(description = "Omkring 20 år, sort jakke", name = ""))
            report.setWantsContact(true)
            report.setContact(name = "", phone = "+45 12 34 56 78", email = "")
            report.attach("chat.jpg", "image/jpeg", photo.path, photo.length())
            assertEquals(MediaKind.PHOTO, report.state.value.form.attachments.single().kind)

            // When it is filed
            val filed = requireNotNull(report.submit())

            // Then the form is empty again and the codename is shown with the core's advice
            assertEquals(ReportForm(), report.state.value.form)
            val shown = requireNotNull(app.codename.state.value)
            assertEquals(filed.codename, shown.words.joinToString(" "))
            assertTrue(shown.words.size >= 7, shown.words.toString())
            assertEquals(danish.text("codename-keep"), shown.advice)
            assertEquals(listOf(AttachmentNote("chat.jpg", true, danish.text("metadata-removed"))), shown.attachments)

            // And once kept, it is gone from the app
            app.codename.kept()
            assertNull(app.codename.state.value)

            // And delivery started by itself: the outbox row ends delivered
            eventually("delivered") {
                app.outbox.state.value.rows.singleOrNull()?.phase == OutboxPhase.DELIVERED
            }
            val row = app.outbox.state.value.rows.single()
            assertEquals(filed.reportId, row.reportId)
            assertTrue(row.unitName.startsWith("Infohuset"), row.unitName)
            assertTrue(row.status.startsWith("Leveret "), row.status)
        }
    }

    @Test
    fun test_a_phone_that_never_had_the_directory_is_told_so() = runBlocking {
        Device(server, "no-directory").use { device ->
            val report = device.app.report
            report.setCategory("radicalisation")
            report.setText("Noget")
            assertNull(report.submit())
            assertEquals(Notice.App(AppMessage.NO_DIRECTORY), report.state.value.notice)
            assertEquals("Noget", report.state.value.form.text)
        }
    }
}
