package org.tipline.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Call
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.Icon
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextDirection
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.delay
import org.tipline.app.R
import org.tipline.viewmodel.HotlinesViewModel

/** Hotlines for the reporter's region: "open now" from the core, tap to call. */
@Composable
fun HotlinesScreen(hotlines: HotlinesViewModel, actions: PlatformActions) {
    val state by hotlines.state.collectAsState()
    // Opening hours change with the clock: ask the core again every minute while shown.
    LaunchedEffect(Unit) {
        while (true) {
            hotlines.refresh()
            delay(60_000)
        }
    }

    LazyColumn(
        Modifier.fillMaxSize(),
        contentPadding = PaddingValues(16.dp),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        item {
            NoticeCard(state.notice)
            if (state.hotlines.isEmpty() && state.notice == null) Text(stringResource(R.string.hotlines_empty))
        }
        items(state.hotlines, key = { it.id }) { line ->
            Card(Modifier.fillMaxWidth()) {
                Row(Modifier.padding(12.dp), verticalAlignment = Alignment.CenterVertically) {
                    Column(Modifier.weight(1f), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                        Text(line.name, style = MaterialTheme.typography.titleMedium)
                        // Phone numbers read left to right in every language.
                        Text(line.display, style = MaterialTheme.typography.bodyLarge.copy(textDirection = TextDirection.Ltr))
                        Text(
                            line.status,
                            color = if (line.openNow) MaterialTheme.colorScheme.primary else MaterialTheme.colorScheme.onSurfaceVariant,
                        )
                    }
                    Button(onClick = { actions.dial(line.dialUri) }) {
                        Icon(Icons.Filled.Call, contentDescription = null)
                        Text(stringResource(R.string.hotlines_call))
                    }
                }
            }
        }
    }
}
