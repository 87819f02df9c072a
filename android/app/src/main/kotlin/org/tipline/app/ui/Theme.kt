package org.tipline.app.ui

import androidx.compose.foundation.isSystemInDarkTheme
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.darkColorScheme
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color

private val Navy = Color(0xFF1F3A5F)

/** Material 3 with a calm palette; quick exit uses the error colour so it is always easy to find. */
@Composable
fun TiplineTheme(content: @Composable () -> Unit) {
    val colors = if (isSystemInDarkTheme()) {
        darkColorScheme(primary = Color(0xFF9CC3F5))
    } else {
        lightColorScheme(primary = Navy)
    }
    MaterialTheme(colorScheme = colors, content = content)
}
