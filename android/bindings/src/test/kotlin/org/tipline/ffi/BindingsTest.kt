package org.tipline.ffi

import java.io.File
import java.time.Duration
import java.time.Instant
import java.util.Base64
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * Smoke tests of the generated Kotlin bindings on the JVM against a live server: the citizen
 * flow through suspend functions, with the key store and outbox listener implemented in Kotlin,
 * and `ApiException` thrown for what an app must handle. The behaviour itself is tested in Rust.
 */
@Suppress("FunctionName")
class BindingsTest {
    private lateinit var server: TestServer

    @BeforeEach
    fun start() {
        server = TestServer()
    }

    @AfterEach
    fun stop() {
        server.close()
    }

    private fun draft(text: String = "En ung mand deler IS-videoer i en gruppechat for skoleelever.", category: String = "radicalisation") =
        Draft(category = category, text = text, language = "da", region = "DK-84")

    @Test
    fun test_report_with_photo_is_delivered_answered_and_alerted() = runBlocking {
        // Given a device with a Kotlin key store and listener, and the server's directory
        val keys = FixedKeyStore()
        val client = TiplineClient.open(server.config("phone"), keys)
        val heard = Recorder()
        client.setListener(heard)
        val directory = client.refreshDirectory()
        assertTrue(directory.units.any { it.id == UNIT })
        assertEquals(directory.version, client.directory()?.version)

        // When the reporter files a report with a photo carrying EXIF, and the outbox flushes
        val photo = File(repoRoot, "ffi/testdata/photo-with-exif.jpg")
        val filed = client.fileReport(
            draft().copy(
                attachments = listOf(DraftAttachment(name = "chat.jpg", mediaType = "image/jpeg", path = photo.path)),
                people = listOf(Person(description = "Omkring 20 år, sort jakke")),
                place = DraftPlace.Position(latitude = 55.6761, longitude = 12.5683, precision = Precision.NEIGHBOURHOOD),
                happened = When.Exact(at = Instant.now()),
            ),
        )
        assertEquals(UNIT, filed.unitId)
        assertTrue("tipline local store" in keys.asked) // asked when the case book is first written
        assertEquals(listOf(true), filed.stripped)
        val summary = client.flush()

        // Then it is delivered with the server's receipt, and the listener heard every step
        assertEquals(FlushSummary(delivered = 1u, pending = 0u, failed = 0u, unverified = 0u), summary)
        val item = client.outbox().single()
        assertEquals(filed.reportId, item.reportId)
        val delivered = item.status as OutboxStatus.Delivered
        assertTrue(Duration.between(delivered.receivedAt, Instant.now()).abs() < Duration.ofMinutes(1))
        val steps = heard.statuses(filed.reportId)
        assertEquals("Queued", steps.first())
        assertTrue("Sending" in steps)
        assertEquals("Delivered", steps.last())
        assertEquals(filed.codename, client.codename(filed.caseId))

        // When the unit's desk opens it with its photo, acknowledges it and replies
        val desk = server.desk(UNIT, "reply", "--text", REPLY)
        assertEquals(listOf(filed.reportId), jsonStrings(desk, "report_id"))
        val seen = Base64.getUrlDecoder().decode(jsonStrings(desk, "bytes_b64").single())
        assertEquals(0xFF.toByte(), seen[0])
        assertFalse(String(seen, Charsets.ISO_8859_1).contains("Exif"), "the photo's EXIF was stripped on the device")

        // Then the reporter reads the reply, its signature checked against the directory
        val conversation = client.conversation(filed.caseId)
        assertEquals(listOf(true to REPLY), conversation.map { it.fromUnit to it.text })

        // When the unit publishes an alert for the region, the device shows it
        val published = server.desk(UNIT, "alert", "--region", "DK-84", "--language", "da",
            "--title", "Vær opmærksom", "--body", "Opslag om rekruttering i området.")
        val alerts = client.alerts("DK-84", Language.DANISH)
        assertEquals(jsonStrings(published, "alert_id"), alerts.map { it.alertId })
        assertEquals("Vær opmærksom", alerts.single().title)

        // And the hotlines come with their status in the reporter's language
        val hotlines = client.hotlines("DK-84", Language.DANISH, Instant.now())
        assertTrue(hotlines.isNotEmpty() && hotlines.all { it.dialUri.startsWith("tel:") })
        client.close()
    }

    @Test
    fun test_bad_input_throws_exceptions_an_app_can_act_on() = runBlocking {
        val client = TiplineClient.open(server.config("phone"), FixedKeyStore())
        // Given no directory yet, filing is refused as "not found"
        assertThrows<ApiException.NotFound> { client.fileReport(draft()) }
        client.refreshDirectory()
        // When a draft has an empty text and an unknown category
        val error = assertThrows<ApiException.InvalidInput> {
            client.fileReport(draft(text = " ", category = "no-such-category"))
        }
        // Then each problem names its field, with a sentence in the reporter's language
        assertEquals(
            setOf("text" to "field-required", "category" to "category-unknown"),
            error.fields.map { it.field to it.code }.toSet(),
        )
        Localizer(Language.DANISH).use { danish ->
            error.fields.forEach { assertNotEquals(it.code, it.message(danish)) }
        }
        assertTrue(client.outbox().isEmpty())
        // A mistyped codename is a field problem; an unreachable server a retryable network error
        val typo = assertThrows<ApiException.InvalidInput> { client.recoverCase("not a codename") }
        assertEquals("codename", typo.fields.single().field)
        val offline = TiplineClient.open(
            server.config("offline").copy(baseUrl = "http://127.0.0.1:9", timeout = Duration.ofSeconds(2)),
            FixedKeyStore(),
        )
        val network = assertThrows<ApiException.Network> { offline.refreshDirectory() }
        assertEquals("reason-offline", network.reason)
        assertTrue(network.retryable)
        assertNull(offline.directory())
        client.close()
        offline.close()
    }

    @Test
    fun test_localisation_reaches_kotlin() {
        assertEquals(Language.ARABIC, languageFromTag("ar-EG"))
        assertNull(languageFromTag("fr"))
        assertEquals(Language.DANISH, negotiateLanguage(listOf("fr-FR", "da-DK")))
        assertEquals("ar", Language.ARABIC.code())
        assertEquals(Direction.RIGHT_TO_LEFT, Localizer(Language.ARABIC).use { it.direction() })
    }

    companion object {
        const val UNIT = "dk-infohus-vestegnen"
        const val REPLY = "Tak for din henvendelse. Vi ser på sagen i dag."
    }
}
