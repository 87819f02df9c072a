package org.tipline.app

import android.Manifest
import android.content.ClipData
import android.content.ClipDescription
import android.content.ClipboardManager
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.os.PersistableBundle
import android.view.WindowManager
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.Text
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.produceState
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import org.tipline.app.platform.UpdateNotifier
import org.tipline.app.ui.PlatformActions
import org.tipline.app.ui.TiplineRoot
import org.tipline.app.ui.TiplineTheme
import org.tipline.viewmodel.AppModel

/**
 * The one activity. Its window is secure (no screenshots, blank in the recent-apps list), and
 * quick exit leaves at once: the models forget what was on screen and the task is removed. The
 * update notification opens this activity like the app's icon does, so the same secure window and
 * quick exit greet whoever taps it.
 */
class MainActivity : ComponentActivity(), PlatformActions {
    private var model: AppModel? = null
    private val notificationPermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { }
    private var askedForNotifications = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        val application = application as TiplineApplication
        setContent {
            val opened by produceState<Result<AppModel>?>(null) {
                value = runCatching { application.model() }.onSuccess { this@MainActivity.model = it }
            }
            TiplineTheme {
                val ready = opened?.getOrNull()
                val failure = opened?.exceptionOrNull()
                when {
                    ready != null -> {
                        // The permission prompt once the reporter has a case to hear about: right
                        // after filing (the codename on screen), or with cases already on the phone.
                        val cases by ready.cases.cases.collectAsState()
                        val codename by ready.codename.state.collectAsState()
                        val settings by ready.settings.state.collectAsState()
                        val hasCase = cases.cases.isNotEmpty() || codename != null
                        LaunchedEffect(hasCase, settings.updateNotifications) {
                            if (hasCase && settings.updateNotifications) allowNotifications()
                        }
                        TiplineRoot(ready, this@MainActivity)
                    }
                    failure != null -> Box(Modifier.fillMaxSize().padding(24.dp), contentAlignment = Alignment.Center) {
                        Text(failure.message ?: failure.toString())
                    }
                    else -> Box(Modifier.fillMaxSize(), contentAlignment = Alignment.Center) { CircularProgressIndicator() }
                }
            }
        }
    }

    /** The reporter is looking at the app: the update notification has done its work. */
    override fun onStart() {
        super.onStart()
        UpdateNotifier.cancel(this)
        model?.updates?.dismissed()
    }

    /** Quick exit: nothing left on screen, in the back stack or in the notification shade, the task gone from recents. */
    override fun quickExit() {
        model?.quickExit()
        UpdateNotifier.cancel(this)
        finishAndRemoveTask()
    }

    /** Android 13+: asks for POST_NOTIFICATIONS once per screen session, if not granted. */
    override fun allowNotifications() {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU || askedForNotifications || UpdateNotifier.allowed(this)) return
        askedForNotifications = true
        notificationPermission.launch(Manifest.permission.POST_NOTIFICATIONS)
    }

    /** Tap to call: the dialler opens with the number; the reporter presses call. */
    override fun dial(uri: String) {
        startActivity(Intent(Intent.ACTION_DIAL, Uri.parse(uri)))
    }

    /** Copies the codename, marked sensitive so that the clipboard preview does not show it. */
    override fun copySecret(label: String, text: String) {
        val clip = ClipData.newPlainText(label, text)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            clip.description.extras = PersistableBundle().apply { putBoolean(ClipDescription.EXTRA_IS_SENSITIVE, true) }
        }
        getSystemService(ClipboardManager::class.java).setPrimaryClip(clip)
    }
}
