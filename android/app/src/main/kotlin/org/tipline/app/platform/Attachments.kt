package org.tipline.app.platform

import android.content.Context
import android.net.Uri
import android.provider.OpenableColumns
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/** A file the reporter picked, read whole (the bindings take an attachment's bytes). */
class PickedFile(val name: String, val mediaType: String, val bytes: ByteArray)

/** Reads a picked photo, video or audio file; metadata stays in, the core strips it. */
suspend fun readPicked(context: Context, uri: Uri): PickedFile? = withContext(Dispatchers.IO) {
    val resolver = context.contentResolver
    val mediaType = resolver.getType(uri) ?: "application/octet-stream"
    val name = resolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use { cursor ->
        if (cursor.moveToFirst()) cursor.getString(0) else null
    } ?: uri.lastPathSegment ?: "attachment"
    val bytes = resolver.openInputStream(uri)?.use { it.readBytes() } ?: return@withContext null
    PickedFile(name, mediaType, bytes)
}
