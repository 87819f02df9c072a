package org.tipline.app

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
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.Text
import androidx.compose.runtime.getValue
import androidx.compose.runtime.produceState
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import org.tipline.app.ui.PlatformActions
import org.tipline.app.ui.TiplineRoot
import org.tipline.app.ui.TiplineTheme
import org.tipline.viewmodel.AppModel

/**
 * The one activity. Its window is secure (no screenshots, blank in the recent-apps list), and
 * quick exit leaves at once: the models forget what was on screen and the task is removed.
 */
class MainActivity : ComponentActivity(), PlatformActions {
    private var model: AppModel? = null

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
                    ready != null -> TiplineRoot(ready, this@MainActivity)
                    failure != null -> Box(Modifier.fillMaxSize().padding(24.dp), contentAlignment = Alignment.Center) {
                        Text(failure.message ?: failure.toString())
                    }
                    else -> Box(Modifier.fillMaxSize(), contentAlignment = Alignment.Center) { CircularProgressIndicator() }
                }
            }
        }
    }

    /** Quick exit: nothing left on screen or in the back stack, the task gone from recents. */
    override fun quickExit() {
        model?.quickExit()
        finishAndRemoveTask()
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
