package org.tipline.app.platform

import android.content.Context
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
import org.tipline.app.TiplineApplication

/**
 * Background delivery: WorkManager runs this when the phone is online, also after the app was
 * closed or the phone restarted, and it flushes the core's outbox. The core decides what is due;
 * while something still waits, the work stays scheduled.
 */
class DeliveryWorker(context: Context, parameters: WorkerParameters) : CoroutineWorker(context, parameters) {
    override suspend fun doWork(): Result {
        val app = (applicationContext as TiplineApplication).model()
        val summary = app.delivery.flushNow()
        return if (summary == null) Result.retry() else Result.success()
    }

    companion object {
        private const val PERIODIC = "tipline-outbox-periodic"
        private const val SOON = "tipline-outbox-soon"
        private val online = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        /** Every 15 minutes while online (WorkManager's shortest period). */
        fun schedulePeriodic(context: Context) {
            val request = PeriodicWorkRequestBuilder<DeliveryWorker>(15, TimeUnit.MINUTES).setConstraints(online).build()
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
        }

        /** Once, as soon as the phone is online (after filing, or when the app goes to the background). */
        fun scheduleSoon(context: Context) {
            val request = OneTimeWorkRequestBuilder<DeliveryWorker>().setConstraints(online).build()
            WorkManager.getInstance(context).enqueueUniqueWork(SOON, ExistingWorkPolicy.REPLACE, request)
        }
    }
}
