package org.tipline.app.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.input.KeyboardCapitalization
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.tipline.app.R
import org.tipline.viewmodel.CaseViewModel

/** The cases on this phone, and recovering a case on this phone from its codename. */
@Composable
fun CasesScreen(cases: CaseViewModel, onOpen: (String) -> Unit) {
    val state by cases.cases.collectAsState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(Unit) { cases.refreshCases() }

    LazyColumn(
        Modifier.fillMaxSize(),
        contentPadding = PaddingValues(16.dp),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        item {
            NoticeCard(state.notice)
            SectionTitle(stringResource(R.string.cases_title))
            if (state.cases.isEmpty()) Text(stringResource(R.string.cases_empty))
        }
        items(state.cases, key = { it.caseId }) { case ->
            Card(
                Modifier
                    .fillMaxWidth()
                    .clickable { onOpen(case.caseId) },
            ) {
                Column(Modifier.padding(12.dp)) {
                    Text(case.unitName.ifEmpty { stringResource(R.string.cases_unit_unknown) }, style = MaterialTheme.typography.titleSmall)
                    Text(case.created, style = MaterialTheme.typography.bodySmall)
                }
            }
        }
        item {
            SectionTitle(stringResource(R.string.recover_title))
            Text(stringResource(R.string.recover_explain))
            OutlinedTextField(
                value = state.codenameInput,
                onValueChange = cases::setCodenameInput,
                modifier = Modifier.fillMaxWidth(),
                label = { Text(stringResource(R.string.recover_codename)) },
                isError = state.codenameProblem != null,
                keyboardOptions = KeyboardOptions(
                    capitalization = KeyboardCapitalization.None,
                    autoCorrectEnabled = false,
                    keyboardType = KeyboardType.Password,
                ),
            )
            FieldProblem(state.codenameProblem)
            Button(
                onClick = { scope.launch { cases.recover()?.let(onOpen) } },
                enabled = !state.recovering && state.codenameInput.isNotBlank(),
                modifier = Modifier.padding(top = 8.dp),
            ) {
                Text(stringResource(R.string.recover_action))
            }
        }
    }
}
