package org.tipline.viewmodel

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.nio.file.Files
import java.time.Duration
import java.util.concurrent.TimeUnit
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeout
import org.tipline.ffi.ClientConfig
import org.tipline.ffi.KeyStore
import org.tipline.ffi.TiplineClient

// The same live setup as the bindings' tests (android/bindings/src/test/.../Support.kt): the
// binaries cargo built, a `tipline-server --dev` on a loopback port in a temporary folder, and the
// desk helper playing a unit. The view models run over a real client on a real server.

val targetDir = File(System.getProperty("tipline.target.dir") ?: error("run through Maven: tipline.target.dir is unset"))
val repoRoot = File(System.getProperty("tipline.root") ?: error("run through Maven: tipline.root is unset"))

const val UNIT = "dk-infohus-vestegnen"
const val REGION = "DK-84"

/** A test device's key store: every key derived from one fixed secret (HMAC-SHA256). */
class FixedKeyStore(private val secret: String = "view model tests") : KeyStore {
    override fun key(name: String): ByteArray {
        val mac = Mac.getInstance("HmacSHA256")
        mac.init(SecretKeySpec(secret.toByteArray(), "HmacSHA256"))
        return mac.doFinal(name.toByteArray())
    }
}

/** A `tipline-server --dev` in a temporary folder; it can be stopped and started again on the
 * same port and data, to play a network that goes away and comes back. */
class TestServer : AutoCloseable {
    val dataDir: File = Files.createTempDirectory("tipline-viewmodel-").toFile()
    private val port = ServerSocket(0).use { it.localPort }
    val url = "http://127.0.0.1:$port"
    private var process: Process? = null
    val authorityKey: String

    init {
        start()
        authorityKey = File(dataDir, "server/authority.pub").readText().trim()
    }

    /** Starts the server (again). */
    fun start() {
        val log = File(dataDir, "server.log")
        val started = ProcessBuilder(
            File(targetDir, "tipline-server").path, "--listen", "127.0.0.1:$port",
            "--data-dir", File(dataDir, "server").path, "--dev", "--stamp-difficulty", "4",
        ).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start()
        process = started
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (!ready()) {
            check(started.isAlive && System.nanoTime() < deadline) { "the server did not start:\n" + log.readText() }
            Thread.sleep(100)
        }
    }

    /** Stops the server; its data stays for [start]. */
    fun stop() {
        process?.let {
            it.destroy()
            if (!it.waitFor(10, TimeUnit.SECONDS)) it.destroyForcibly().waitFor()
        }
        process = null
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
        storageDir = File(dataDir, device).path, baseUrl = url, authorityKey = authorityKey, timeout = Duration.ofSeconds(5),
    )

    /** Runs the desk helper as `unitId` and returns the JSON it prints. */
    fun desk(unitId: String, vararg command: String): String {
        val run = ProcessBuilder(
            listOf(File(targetDir, "examples/test_desk").path, "--server", url, "--unit-key", File(dataDir, "server/units/$unitId.key").path) + command,
        ).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val out = run.inputStream.bufferedReader().readText()
        check(run.waitFor(120, TimeUnit.SECONDS) && run.exitValue() == 0) { "test_desk ${command[0]} failed" }
        return out
    }

    override fun close() {
        stop()
        dataDir.deleteRecursively()
    }
}

/** A device: the app's models over a real client, as the platform opens them. */
class Device(
    server: TestServer,
    name: String,
    deviceLanguages: List<String> = listOf("da-DK"),
    val preferences: Preferences = MemoryPreferences(),
    config: ClientConfig = server.config(name),
) : AutoCloseable {
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    val app: AppModel = kotlinx.coroutines.runBlocking {
        AppModel.open(config, FixedKeyStore(), preferences, deviceLanguages, null, scope)
    }

    /** Lets the flushes the models started finish, then closes the client. */
    override fun close() {
        kotlinx.coroutines.runBlocking {
            withTimeout(30_000) { scope.coroutineContext[Job]?.children?.forEach { it.join() } }
        }
        scope.cancel()
        (app.client as TiplineClient).close()
    }
}

/** Waits (up to 30 s) until `condition` holds. */
suspend fun eventually(what: String, condition: suspend () -> Boolean) {
    withTimeout(30_000) {
        while (!condition()) delay(50)
    }
    check(condition()) { what }
}

/** The string values of `key` in a JSON text (enough for the desk helper's flat answers). */
fun jsonStrings(json: String, key: String): List<String> =
    Regex("\"${Regex.escape(key)}\":\"((?:[^\"\\\\]|\\\\.)*)\"").findAll(json).map { it.groupValues[1] }.toList()
