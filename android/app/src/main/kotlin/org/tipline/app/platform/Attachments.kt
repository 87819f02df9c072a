package org.tipline.app.platform

import android.content.Context
import android.net.Uri
import android.provider.OpenableColumns
import java.io.File
import java.util.UUID
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/** A file the reporter picked, copied to the app's cache: the core reads it from there in chunks,
 * so a long video never sits whole in memory. */
class PickedFile(val name: String, val mediaType: String, val path: String, val size: Long)

/** The folder of picked files' copies; emptied when the app starts (a report already filed holds
 * its own sealed copy in the outbox). */
fun pickedFolder(context: Context): File = File(context.cacheDir, "picked").apply { mkdirs() }

/** Copies a picked photo, video or audio file to the app's cache, streaming; metadata stays in,
 * the core strips it. */
suspend fun copyPicked(context: Context, uri: Uri): PickedFile? = withContext(Dispatchers.IO) {
    val resolver = context.contentResolver
    val mediaType = resolver.getType(uri) ?: "application/octet-stream"
    val name = resolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use { cursor ->
        if (cursor.moveToFirst()) cursor.getString(0) else null
    } ?: uri.lastPathSegment ?: "attachment"
    val copy = File(pickedFolder(context), UUID.randomUUID().toString())
    val size = resolver.openInputStream(uri)?.use { input -> copy.outputStream().use { input.copyTo(it) } }
        ?: return@withContext null
    PickedFile(name, mediaType, copy.path, size)
}
