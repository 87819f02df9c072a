package org.tipline.app.platform

import android.annotation.SuppressLint
import android.content.Context
import android.location.Location
import android.location.LocationManager
import android.os.Build
import kotlin.coroutines.resume
import kotlinx.coroutines.suspendCancellableCoroutine

/**
 * The phone's position, once, after the reporter allowed it (the screen asks for the
 * permission). Null when none can be had. The core snaps it to the precision the reporter chose
 * before anything is stored.
 */
@SuppressLint("MissingPermission")
suspend fun currentLocation(context: Context): Location? {
    val manager = context.getSystemService(LocationManager::class.java) ?: return null
    val provider = listOf(LocationManager.NETWORK_PROVIDER, LocationManager.GPS_PROVIDER).firstOrNull { manager.isProviderEnabled(it) } ?: return null
    if (Build.VERSION.SDK_INT < Build.VERSION_CODES.R) return manager.getLastKnownLocation(provider)
    return suspendCancellableCoroutine { continuation ->
        manager.getCurrentLocation(provider, null, context.mainExecutor) { location -> continuation.resume(location) }
    }
}
