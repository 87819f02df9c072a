package org.tipline.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.tipline.app.R
import org.tipline.viewmodel.AppModel
import org.tipline.viewmodel.SettingsViewModel

/**
 * The language switch (es, en, ar right to left, da), the reporter's region, the update
 * notification, and the relay choice (Oblivious HTTP: on by default).
 */
@Composable
fun SettingsScreen(model: AppModel, actions: PlatformActions) {
    val state by model.settings.state.collectAsState()
    val directoryNotice by model.directoryNotice.collectAsState()
    val relay by model.relay.collectAsState()
    val scope = rememberCoroutineScope()

    Column(
        Modifier
            .fillMaxSize()
            .verticalScroll(rememberScrollState())
            .padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(4.dp),
    ) {
        SectionTitle(stringResource(R.string.settings_language))
        state.languages.forEach { option ->
            ChoiceRow(state.language == option.language, option.name) {
                scope.launch { model.selectLanguage(option.language) }
            }
        }
        SectionTitle(stringResource(R.string.settings_region))
        NoticeCard(directoryNotice)
        state.regions.forEach { option ->
            ChoiceRow(state.region == option.code, option.label) {
                scope.launch { model.selectRegion(option.code) }
            }
        }
        SectionTitle(stringResource(R.string.settings_notifications))
        Row(Modifier.fillMaxWidth(), verticalAlignment = Alignment.CenterVertically) {
            Text(stringResource(R.string.settings_notifications_on), Modifier.weight(1f))
            Switch(checked = state.updateNotifications, onCheckedChange = { on ->
                model.settings.setUpdateNotifications(on)
                if (on) actions.allowNotifications()
            })
        }
        if (state.updateNotifications) {
            // Typed freely; the view model keeps it on one line, bounded, and blank as neutral.
            var wording by remember { mutableStateOf(state.notificationWording.orEmpty()) }
            OutlinedTextField(
                value = wording,
                onValueChange = {
                    wording = it.take(SettingsViewModel.MAX_WORDING)
                    model.settings.setNotificationWording(wording)
                },
                label = { Text(stringResource(R.string.settings_notification_wording)) },
                placeholder = { Text(stringResource(R.string.message_update)) },
                singleLine = true,
                modifier = Modifier.fillMaxWidth(),
            )
            Text(stringResource(R.string.settings_notification_wording_note))
        }
        SectionTitle(stringResource(R.string.settings_relay))
        Row(Modifier.fillMaxWidth(), verticalAlignment = Alignment.CenterVertically) {
            Text(stringResource(R.string.settings_relay_on), Modifier.weight(1f))
            Switch(checked = relay.enabled, onCheckedChange = { on ->
                scope.launch { model.setUseRelay(on) }
            })
        }
        Text(
            stringResource(
                when {
                    relay.active -> R.string.settings_relay_active
                    relay.enabled -> R.string.settings_relay_none
                    else -> R.string.settings_relay_off
                },
            ),
        )
        Text(stringResource(R.string.settings_quick_exit_note), Modifier.padding(top = 16.dp))
    }
}
