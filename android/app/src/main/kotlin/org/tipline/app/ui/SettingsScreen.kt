package org.tipline.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.tipline.app.R
import org.tipline.viewmodel.AppModel

/** The language switch (es, en, ar right to left, da) and the reporter's region. */
@Composable
fun SettingsScreen(model: AppModel) {
    val state by model.settings.state.collectAsState()
    val directoryNotice by model.directoryNotice.collectAsState()
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
        Text(stringResource(R.string.settings_quick_exit_note), Modifier.padding(top = 16.dp))
    }
}
