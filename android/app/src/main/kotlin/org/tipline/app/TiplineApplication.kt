package org.tipline.app

import android.app.Application
import android.os.LocaleList
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import java.io.File
import java.util.Locale
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import org.tipline.app.platform.DeliveryWorker
import org.tipline.app.platform.KeystoreKeyStore
import org.tipline.app.platform.NetworkHooks
import org.tipline.app.platform.SharedPreferencesStore
import org.tipline.app.platform.pickedFolder
import org.tipline.ffi.ApiException
import org.tipline.ffi.ClientConfig
import org.tipline.ffi.OutboxStatus
import org.tipline.viewmodel.AppModel
import org.tipline.viewmodel.UpdatesViewModel

/**
 * Opens the one client for the process (in the app's private storage, keys from the Android
 * Keystore) and wires the platform's signals to delivery: the network callback, the app coming
 * to the foreground, and WorkManager for when the app is not running (which also checks the
 * cases for news, see [DeliveryWorker]).
 */
class TiplineApplication : Application() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Main.immediate)
    private val opened = CompletableDeferred<AppModel>()

    /** The app's models, once the client is open (immediately after the first start). */
    suspend fun model(): AppModel = opened.await()

    override fun onCreate() {
        super.onCreate()
        scope.launch {
            // Copies of files picked before the app last stopped: a filed report holds its own
            // sealed copy in the outbox, and a draft is not kept across starts.
            pickedFolder(this@TiplineApplication).listFiles()?.forEach { it.delete() }
            val config = ClientConfig(
                storageDir = File(filesDir, "tipline").path,
                baseUrl = BuildConfig.SERVER_URL,
                authorityKey = BuildConfig.AUTHORITY_KEY,
            )
            val languages = LocaleList.getDefault().toLanguageTags().split(',')
            val app = try {
                AppModel.open(config, KeystoreKeyStore(this@TiplineApplication), SharedPreferencesStore(this@TiplineApplication), languages, Locale.getDefault().country, scope)
            } catch (e: ApiException) {
                // A build without a valid authority key, or a key store that fails: the screen says so.
                opened.completeExceptionally(e)
                return@launch
            }
            opened.complete(app)

            NetworkHooks.register(this@TiplineApplication, app.delivery)
            DeliveryWorker.schedulePeriodic(this@TiplineApplication)
            // Whatever waits when the app goes to the background is handed to WorkManager.
            app.addOutboxListener { item ->
                if (item.status is OutboxStatus.Queued) DeliveryWorker.scheduleSoon(this@TiplineApplication)
            }
            ProcessLifecycleOwner.get().lifecycle.addObserver(object : DefaultLifecycleObserver {
                override fun onStart(owner: LifecycleOwner) {
                    app.delivery.onForeground()
                    // The first time the app comes to the front (not when WorkManager alone
                    // started the process), a check of the cases, posting nothing.
                    scope.launch { app.updates.checkAtStart(UpdatesViewModel.START_SPREAD) }
                }
            })
            app.start()
        }
    }
}
