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
import androidx.compose.material.icons.filled.CheckCircle
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material.icons.filled.Warning
import androidx.compose.material3.Card
import androidx.compose.material3.Icon
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.tipline.app.R
import org.tipline.viewmodel.AppModel
import org.tipline.viewmodel.OutboxPhase

/** The outbox: each report with its status in the core's words, live, and "retry". */
@Composable
fun OutboxScreen(model: AppModel) {
    val outbox = model.outbox
    val state by outbox.state.collectAsState()
    val delivery by model.delivery.state.collectAsState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(Unit) { outbox.refresh() }

    LazyColumn(
        Modifier.fillMaxSize(),
        contentPadding = PaddingValues(16.dp),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        item {
            if (!delivery.online) Text(stringResource(R.string.outbox_offline), color = MaterialTheme.colorScheme.error)
            NoticeCard(state.notice ?: delivery.notice)
            if (state.rows.isEmpty()) Text(stringResource(R.string.outbox_empty))
        }
        items(state.rows, key = { it.reportId }) { row ->
            Card(Modifier.fillMaxWidth()) {
                Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                    Row(verticalAlignment = Alignment.CenterVertically) {
                        when (row.phase) {
                            OutboxPhase.DELIVERED -> Icon(Icons.Filled.CheckCircle, contentDescription = null, tint = MaterialTheme.colorScheme.primary)
                            OutboxPhase.FAILED, OutboxPhase.UNVERIFIED -> Icon(Icons.Filled.Warning, contentDescription = null, tint = MaterialTheme.colorScheme.error)
                            else -> Icon(Icons.Filled.Refresh, contentDescription = null)
                        }
                        Text(row.unitName, Modifier.padding(start = 8.dp), style = MaterialTheme.typography.titleSmall)
                    }
                    Text(row.created, style = MaterialTheme.typography.bodySmall)
                    Text(row.status)
                    row.progress?.let { LinearProgressIndicator(progress = { it }, modifier = Modifier.fillMaxWidth()) }
                    if (row.canRetry) {
                        TextButton(onClick = { scope.launch { outbox.retry(row.reportId) } }) {
                            Text(stringResource(R.string.outbox_retry))
                        }
                    }
                }
            }
        }
    }
}
