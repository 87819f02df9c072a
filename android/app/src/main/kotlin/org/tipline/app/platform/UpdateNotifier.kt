package org.tipline.app.platform

import android.Manifest
import android.app.Notification
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.content.res.Configuration
import android.os.Build
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.content.ContextCompat
import java.util.Locale
import org.tipline.app.MainActivity
import org.tipline.app.R
import org.tipline.viewmodel.Notice
import org.tipline.viewmodel.UpdateNotification

/**
 * Posts the update notification the view model decided on: a local notification (no push
 * service, no token), on a channel of low importance (no sound, no heads-up), secret on the lock
 * screen, with a public version that says nothing. Tapping it opens the app as its icon does:
 * the one secure activity with its quick exit, never a case directly.
 */
object UpdateNotifier {
    private const val CHANNEL = "tipline-updates"
    private const val ID = 19

    /** Posts `notification` with its words in the reporter's language (`languageCode`). */
    fun post(context: Context, notification: UpdateNotification, languageCode: String) {
        if (!allowed(context)) return
        val resources = localized(context, languageCode)
        createChannel(context, resources.getString(R.string.settings_notifications))
        val words = when (val words = notification.words) {
            is Notice.Text -> words.text
            is Notice.App -> resources.getString(R.string.message_update)
        }
        val open = PendingIntent.getActivity(
            context, 0,
            Intent(context, MainActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_CLEAR_TOP),
            PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
        )
        // What a locked screen may show, where the phone shows anything: the icon, no words.
        val public = NotificationCompat.Builder(context, CHANNEL)
            .setSmallIcon(R.drawable.ic_launcher)
            .build()
        val shown = NotificationCompat.Builder(context, CHANNEL)
            .setSmallIcon(R.drawable.ic_launcher)
            .setContentText(words)
            .setPriority(NotificationCompat.PRIORITY_LOW)
            .setVisibility(NotificationCompat.VISIBILITY_SECRET)
            .setPublicVersion(public)
            .setCategory(NotificationCompat.CATEGORY_REMINDER)
            .setOnlyAlertOnce(true)
            .setAutoCancel(true)
            .setContentIntent(open)
            .build()
        try {
            NotificationManagerCompat.from(context).notify(ID, shown)
        } catch (e: SecurityException) {
            // The permission was withdrawn between the check and the post: nothing is shown.
        }
    }

    /** Removes the notification (the app was opened, or left by quick exit). */
    fun cancel(context: Context) {
        NotificationManagerCompat.from(context).cancel(ID)
    }

    /** Whether the app may post: Android 13's POST_NOTIFICATIONS, and notifications not blocked. */
    fun allowed(context: Context): Boolean {
        val granted = Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU ||
            ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) == PackageManager.PERMISSION_GRANTED
        return granted && NotificationManagerCompat.from(context).areNotificationsEnabled()
    }

    /** The channel, named in the reporter's language (created again when the language changes). */
    private fun createChannel(context: Context, name: String) {
        val channel = NotificationChannel(CHANNEL, name, NotificationManager.IMPORTANCE_LOW).apply {
            lockscreenVisibility = Notification.VISIBILITY_SECRET
            setShowBadge(false)
            enableVibration(false)
            setSound(null, null)
        }
        context.getSystemService(NotificationManager::class.java).createNotificationChannel(channel)
    }

    /** The app's resources in the reporter's chosen language, whatever the phone's. */
    private fun localized(context: Context, code: String) = context.createConfigurationContext(
        Configuration(context.resources.configuration).apply { setLocale(Locale.forLanguageTag(code)) },
    ).resources
}
