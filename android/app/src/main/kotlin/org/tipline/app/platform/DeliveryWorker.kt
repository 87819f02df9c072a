package org.tipline.app.platform

import android.content.Context
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.ProcessLifecycleOwner
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.tipline.app.TiplineApplication

/**
 * Background work: WorkManager runs this when the phone is online, also after the app was closed
 * or the phone restarted. It flushes the core's outbox (the core decides what is due; while
 * something still waits, the work stays scheduled), then the periodic run checks the reporter's
 * cases for news, each case at its own moment of [CHECK_SPREAD_SECONDS], and posts the
 * notification the view model decides on (none while the app is in front).
 */
class DeliveryWorker(context: Context, parameters: WorkerParameters) : CoroutineWorker(context, parameters) {
    override suspend fun doWork(): Result {
        val app = (applicationContext as TiplineApplication).model()
        val summary = app.delivery.flushNow()
        if (tags.contains(PERIODIC)) {
            val inFront = withContext(Dispatchers.Main) {
                ProcessLifecycleOwner.get().lifecycle.currentState.isAtLeast(Lifecycle.State.STARTED)
            }
            app.updates.check(CHECK_SPREAD_SECONDS, foreground = inFront)?.let { notification ->
                UpdateNotifier.post(applicationContext, notification, app.settings.languageCode)
            }
        }
        return if (summary == null) Result.retry() else Result.success()
    }

    companion object {
        /**
         * The check's spread: two minutes, well inside the ten WorkManager gives a worker, so
         * that the cases are asked at moments apart and not in one burst.
         */
        const val CHECK_SPREAD_SECONDS: UInt = 120u

        private const val PERIODIC = "tipline-outbox-periodic"
        private const val SOON = "tipline-outbox-soon"
        private val online = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        /** Every 15 minutes while online (WorkManager's shortest period): flush, then the check. */
        fun schedulePeriodic(context: Context) {
            val request = PeriodicWorkRequestBuilder<DeliveryWorker>(15, TimeUnit.MINUTES)
                .setConstraints(online)
                .addTag(PERIODIC)
                .build()
            // UPDATE, not KEEP: a phone that had the flush-only work from an earlier version gets the tagged one.
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.UPDATE, request)
        }

        /** Once, as soon as the phone is online (after filing, or when the app goes to the background). */
        fun scheduleSoon(context: Context) {
            val request = OneTimeWorkRequestBuilder<DeliveryWorker>().setConstraints(online).build()
            WorkManager.getInstance(context).enqueueUniqueWork(SOON, ExistingWorkPolicy.REPLACE, request)
        }
    }
}
