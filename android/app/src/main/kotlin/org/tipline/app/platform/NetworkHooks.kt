package org.tipline.app.platform

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import org.tipline.viewmodel.ConnectivityDelivery

/**
 * Tells delivery when the phone's default network comes back (or goes), so that the outbox
 * delivers as soon as it can; registered for the app process's lifetime.
 */
object NetworkHooks {
    fun register(context: Context, delivery: ConnectivityDelivery) {
        val connectivity = context.getSystemService(ConnectivityManager::class.java)
        connectivity.registerDefaultNetworkCallback(object : ConnectivityManager.NetworkCallback() {
            override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
                if (capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED)) {
                    delivery.onNetworkAvailable()
                }
            }

            override fun onLost(network: Network) {
                delivery.onNetworkLost()
            }
        })
    }
}
