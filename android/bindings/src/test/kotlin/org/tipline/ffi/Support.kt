package org.tipline.ffi

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.nio.file.Files
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/** Where cargo put the binaries (`tipline.target.dir`, set by the pom) and the repository root. */
val targetDir = File(System.getProperty("tipline.target.dir") ?: error("run through Maven: tipline.target.dir is unset"))
val repoRoot = File(System.getProperty("tipline.root") ?: error("run through Maven: tipline.root is unset"))

/** The platform key store of a test device: every key derived from one fixed secret (HMAC-SHA256),
 * as an app would keep a random secret in the Android Keystore. */
class FixedKeyStore(private val secret: String = "binding tests") : KeyStore {
    val asked = CopyOnWriteArrayList<String>()

    override fun key(name: String): ByteArray {
        asked.add(name)
        val mac = Mac.getInstance("HmacSHA256")
        mac.init(SecretKeySpec(secret.toByteArray(), "HmacSHA256"))
        return mac.doFinal(name.toByteArray())
    }
}

/** Keeps every outbox change it hears; the core calls it from its own threads. */
class Recorder : OutboxListener {
    val items = CopyOnWriteArrayList<OutboxItem>()

    override fun onChange(item: OutboxItem) {
        items.add(item)
    }

    fun statuses(reportId: String): List<String> =
        items.filter { it.reportId == reportId }.map { it.status::class.simpleName ?: "?" }
}

/** A running `tipline-server --dev` in a temporary folder, and the desk helper that plays a unit. */
class TestServer : AutoCloseable {
    val dataDir: File = Files.createTempDirectory("tipline-kotlin-").toFile()
    val url: String
    private val process: Process
    val authorityKey: String

    init {
        val port = ServerSocket(0).use { it.localPort }
        url = "http://127.0.0.1:$port"
        process = ProcessBuilder(
            File(targetDir, "tipline-server").path, "--listen", "127.0.0.1:$port",
            "--data-dir", File(dataDir, "server").path, "--dev", "--stamp-difficulty", "4",
        ).redirectErrorStream(true).redirectOutput(File(dataDir, "server.log")).start()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (!ready()) {
            check(process.isAlive && System.nanoTime() < deadline) {
                "the server did not start:\n" + File(dataDir, "server.log").readText()
            }
            Thread.sleep(100)
        }
        authorityKey = File(dataDir, "server/authority.pub").readText().trim()
    }

    private fun ready(): Boolean = try {
        val connection = URI("$url/readyz").toURL().openConnection() as HttpURLConnection
        connection.connectTimeout = 1000
        connection.responseCode == 200
    } catch (e: java.io.IOException) {
        false
    }

    /** A fresh device's configuration, pinned to this server's authority. */
    fun config(device: String) = ClientConfig(
        storageDir = File(dataDir, device).path, baseUrl = url, authorityKey = authorityKey,
    )

    /** Runs the desk helper as `unitId` and returns the JSON it prints. */
    fun desk(unitId: String, vararg command: String): String {
        val run = ProcessBuilder(
            listOf(File(targetDir, "examples/test_desk").path, "--server", url,
                "--unit-key", File(dataDir, "server/units/$unitId.key").path) + command,
        ).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val out = run.inputStream.bufferedReader().readText()
        check(run.waitFor(120, TimeUnit.SECONDS) && run.exitValue() == 0) { "test_desk ${command[0]} failed" }
        return out
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
        dataDir.deleteRecursively()
    }
}

/** The string values of `key` in a JSON text (enough for the desk helper's flat answers). */
fun jsonStrings(json: String, key: String): List<String> =
    Regex("\"${Regex.escape(key)}\":\"((?:[^\"\\\\]|\\\\.)*)\"").findAll(json).map { it.groupValues[1] }.toList()
