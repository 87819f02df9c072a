package org.tipline.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.tipline.app.R
import org.tipline.ffi.Severity
import org.tipline.viewmodel.AppModel

/** The alerts for the reporter's region, each verified by the core against the directory. */
@Composable
fun AlertsScreen(model: AppModel) {
    val alerts = model.alerts
    val state by alerts.state.collectAsState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(Unit) { alerts.refresh() }

    LazyColumn(
        Modifier.fillMaxSize(),
        contentPadding = PaddingValues(16.dp),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        item {
            if (state.loading) LinearProgressIndicator(Modifier.fillMaxWidth())
            NoticeCard(state.notice)
            state.region?.let { Text(stringResource(R.string.alerts_region, it), style = MaterialTheme.typography.labelLarge) }
            if (state.alerts.isEmpty() && state.notice == null && !state.loading) Text(stringResource(R.string.alerts_empty))
            TextButton(onClick = { scope.launch { alerts.refresh() } }) { Text(stringResource(R.string.action_refresh)) }
        }
        items(state.alerts, key = { it.alertId }) { alert ->
            val container = when (alert.severity) {
                Severity.DANGER -> MaterialTheme.colorScheme.errorContainer
                Severity.WARNING -> MaterialTheme.colorScheme.tertiaryContainer
                Severity.INFO -> MaterialTheme.colorScheme.surfaceVariant
            }
            Card(Modifier.fillMaxWidth(), colors = CardDefaults.cardColors(containerColor = container)) {
                Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                    Text(alert.severityLabel, style = MaterialTheme.typography.labelLarge)
                    Text(alert.title, style = MaterialTheme.typography.titleMedium)
                    Text(alert.body)
                    Text(alert.unitName, style = MaterialTheme.typography.bodySmall)
                    Text(stringResource(R.string.alerts_until, alert.expires), style = MaterialTheme.typography.bodySmall)
                }
            }
        }
    }
}
