package org.tipline.app.ui

import androidx.activity.compose.BackHandler
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
import androidx.compose.material.icons.automirrored.filled.Send
import androidx.compose.material.icons.filled.Refresh
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
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
import org.tipline.viewmodel.CaseViewModel

/** A case's conversation: the unit's replies (checked and opened by the core) and follow-ups. */
@Composable
fun ConversationScreen(cases: CaseViewModel, caseId: String, onBack: () -> Unit) {
    val state by cases.conversation.collectAsState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(caseId) { if (cases.conversation.value?.caseId != caseId) cases.openCase(caseId) }
    BackHandler {
        cases.close()
        onBack()
    }
    val conversation = state ?: return

    Column(Modifier.fillMaxSize()) {
        Row(Modifier.padding(horizontal = 16.dp), verticalAlignment = Alignment.CenterVertically) {
            Text(conversation.unitName, Modifier.weight(1f), style = MaterialTheme.typography.titleMedium)
            IconButton(onClick = { scope.launch { cases.reload() } }) {
                Icon(Icons.Filled.Refresh, contentDescription = stringResource(R.string.action_refresh))
            }
        }
        if (conversation.loading) LinearProgressIndicator(Modifier.fillMaxWidth())
        NoticeCard(conversation.notice, Modifier.padding(horizontal = 16.dp))
        LazyColumn(
            Modifier.weight(1f),
            contentPadding = PaddingValues(16.dp),
            verticalArrangement = Arrangement.spacedBy(8.dp),
        ) {
            if (conversation.messages.isEmpty() && !conversation.loading) {
                item { Text(stringResource(R.string.conversation_empty)) }
            }
            items(conversation.messages, key = { it.messageId }) { message ->
                // The unit's messages on the start side, the reporter's on the end side (mirrored in Arabic).
                Row(Modifier.fillMaxWidth(), horizontalArrangement = if (message.fromUnit) Arrangement.Start else Arrangement.End) {
                    Card(
                        Modifier.fillMaxWidth(0.85f),
                        colors = CardDefaults.cardColors(
                            containerColor = if (message.fromUnit) MaterialTheme.colorScheme.secondaryContainer else MaterialTheme.colorScheme.primaryContainer,
                        ),
                    ) {
                        Column(Modifier.padding(12.dp)) {
                            Text(
                                if (message.fromUnit) message.unitName else stringResource(R.string.conversation_you),
                                style = MaterialTheme.typography.labelMedium,
                            )
                            Text(message.text ?: stringResource(R.string.conversation_sent_elsewhere))
                            message.sentAt?.let { Text(it, style = MaterialTheme.typography.bodySmall) }
                        }
                    }
                }
            }
        }
        Row(Modifier.padding(16.dp), verticalAlignment = Alignment.CenterVertically) {
            OutlinedTextField(
                value = conversation.followUp,
                onValueChange = cases::setFollowUp,
                modifier = Modifier.weight(1f),
                label = { Text(stringResource(R.string.conversation_follow_up)) },
            )
            IconButton(
                onClick = { scope.launch { cases.sendFollowUp() } },
                enabled = !conversation.sending && conversation.followUp.isNotBlank(),
            ) {
                Icon(Icons.AutoMirrored.Filled.Send, contentDescription = stringResource(R.string.conversation_send))
            }
        }
    }
}
